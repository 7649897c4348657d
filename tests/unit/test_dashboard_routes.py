"""`/ui` routes on a real app (FastAPI's test client): only whitelisted files are served, with
the right types, gzip where it pays and revalidation; a missing npm install says what to do;
`/v1/status` needs the key and says when no collector writes here."""

from __future__ import annotations

import gzip
import json
import time

import pytest
from fastapi.testclient import TestClient

from serve.auth import KeyRing
from serve.dashboard import ASSETS_ENV, ui_router, vendor_root
from serve.jsonapi import new_app

KEY = "k-1"


@pytest.fixture
def client(tmp_path):
    keys = KeyRing([KEY])
    app = new_app("test", keys)
    app.include_router(ui_router(str(tmp_path), keys))
    return TestClient(app)


def test_the_page_and_its_scripts_are_served_without_a_key(client):
    page = client.get("/ui")
    assert page.status_code == 200 and 'name="api_key"' in page.text
    assert page.headers["content-type"].startswith("text/html")
    script = client.get("/ui/static/app.js")
    assert script.status_code == 200
    assert script.headers["content-type"].startswith("text/javascript")
    assert client.get("/ui/static/nope.js").status_code == 404


@pytest.mark.parametrize(
    "path",
    ["/ui/vendor/pyodide/package.json", "/ui/vendor/pyodide/../uplot/README.md", "/ui/vendor/x/y"],
)
def test_nothing_outside_the_whitelist_is_served(client, path):
    assert client.get(path).status_code == 404


def test_webassembly_travels_compressed_and_revalidates(client):
    assert (vendor_root() / "pyodide").is_dir(), "run `bash scripts/setup` (it runs npm ci)"
    plain = client.get("/ui/vendor/pyodide/pyodide.asm.wasm", headers={"Accept-Encoding": ""})
    assert plain.headers["content-type"] == "application/wasm"
    assert "content-encoding" not in plain.headers and plain.content[:4] == b"\0asm"
    zipped = client.get("/ui/vendor/pyodide/pyodide.asm.wasm", headers={"Accept-Encoding": "gzip"})
    assert zipped.headers["content-encoding"] == "gzip"
    assert zipped.content == plain.content  # the client decoded it: the same bytes
    assert int(zipped.headers["content-length"]) < len(plain.content) / 2
    assert "max-age" in zipped.headers["cache-control"]
    again = client.get(
        "/ui/vendor/pyodide/pyodide.asm.wasm",
        headers={"Accept-Encoding": "gzip", "If-None-Match": zipped.headers["etag"]},
    )
    assert again.status_code == 304 and again.content == b""
    assert gzip.decompress(gzip.compress(b"x")) == b"x"


def test_missing_front_end_packages_say_how_to_install_them(client, tmp_path, monkeypatch):
    monkeypatch.setenv(ASSETS_ENV, str(tmp_path / "empty"))
    reply = client.get("/ui/vendor/uplot/dist/uPlot.iife.min.js")
    assert reply.status_code == 503 and "bash scripts/setup" in reply.json()["error"]


def test_the_python_bundle_is_a_zip(client):
    reply = client.get("/ui/py/mdc-browser.zip")
    assert reply.status_code == 200 and reply.content[:2] == b"PK"


def test_status_needs_the_key_and_reports_the_panel(client, tmp_path):
    assert client.get("/v1/status").status_code == 401
    headers = {"X-API-Key": KEY}
    missing = client.get("/v1/status", headers=headers)
    assert missing.status_code == 404 and "mdc run" in missing.json()["error"]
    rows = {"provider:binance": {"state": "running", "restarts": 0}}
    (tmp_path / "status.json").write_text(json.dumps({"written_ns": time.time_ns(), "rows": rows}))
    found = client.get("/v1/status", headers=headers).json()
    assert found["rows"] == rows and 0 <= found["age_s"] < 60
    (tmp_path / "status.json").write_text("{not json")
    assert client.get("/v1/status", headers=headers).status_code == 503
