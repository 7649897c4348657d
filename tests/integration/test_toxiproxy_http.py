"""Raw HTTP against the server: JSON shapes, statuses, headers and error bodies of the spec."""

from __future__ import annotations

import asyncio
import json
import socket

import pytest
import requests

from tests.integration.toxiproxy_support import EchoServer, running_server

TEXT = "text/plain; charset=utf-8"
UPSTREAM = "127.0.0.1:9"


@pytest.fixture(scope="module")
def server():
    with running_server() as srv:
        yield srv


@pytest.fixture
def api(server):
    session = requests.Session()
    base = server.url

    def call(method: str, path: str, body=None, raw: bytes | None = None, **kwargs):
        data = raw if raw is not None else (None if body is None else json.dumps(body))
        return session.request(method, base + path, data=data, timeout=10, **kwargs)

    call("POST", "/reset")
    for name in call("GET", "/proxies").json():
        call("DELETE", f"/proxies/{name}")
    yield call
    session.close()


def error_of(response) -> dict:
    assert response.headers["Content-Type"] == TEXT
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.text.endswith("\n") and response.text.count("\n") == 1
    return json.loads(response.text)


def create(api, name="web", **fields):
    body = {"name": name, "listen": "127.0.0.1:0", "upstream": UPSTREAM, **fields}
    response = api("POST", "/proxies", body)
    assert response.status_code == 201, response.text
    return response.json()


def test_version(api):
    response = api("GET", "/version")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json;charset=utf-8"
    assert response.content == b'{"version": "2.12.0"}\n'
    assert response.headers["X-Toxiproxy-Request-Id"]


def test_proxy_create_shape(api):
    response = api(
        "POST", "/proxies", {"name": "web", "listen": "127.0.0.1:0", "upstream": UPSTREAM}
    )
    assert response.status_code == 201
    assert response.headers["Content-Type"] == "application/json"
    proxy = response.json()
    assert list(proxy) == ["name", "listen", "upstream", "enabled", "Logger", "toxics"]
    assert proxy["listen"] != "127.0.0.1:0" and proxy["enabled"] is True
    assert proxy["toxics"] == [] and proxy["Logger"] == {}
    assert api("GET", "/proxies").json() == {"web": proxy}
    assert api("GET", "/proxies/web").json() == proxy


def test_empty_proxy_list_is_an_object(api):
    response = api("GET", "/proxies")
    assert response.status_code == 200 and response.json() == {}


def test_disabled_proxy_keeps_the_given_listen(api):
    proxy = create(api, "off", enabled=False, toxics=[{"type": "latency"}])
    assert proxy["listen"] == "127.0.0.1:0" and proxy["enabled"] is False
    assert proxy["toxics"] == []


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"", "bad request body: EOF"),
        (b'{"name": "x"', "bad request body: unexpected EOF"),
        (b'{"upstream": "a:1"}', "missing required field: name"),
        (b'{"name": "x"}', "missing required field: upstream"),
        (b'{"name": 5, "upstream": "a:1"}', None),
    ],
)
def test_proxy_create_bad_input_is_400(api, body, message):
    response = api("POST", "/proxies", raw=body)
    assert response.status_code == 400
    error = error_of(response)
    assert error["status"] == 400
    assert error["error"] == message if message else error["error"].startswith("bad request body")


def test_duplicate_proxy_is_409_and_unknown_is_404(api):
    create(api, "dup")
    assert error_of(api("POST", "/proxies", {"name": "dup", "upstream": UPSTREAM})) == {
        "error": "proxy already exists",
        "status": 409,
    }
    for method in ("GET", "PATCH", "DELETE"):
        response = api(method, "/proxies/nope", {})
        assert response.status_code == 404
        assert error_of(response) == {"error": "proxy not found", "status": 404}


def test_bind_failure_is_500_with_gos_text_and_adds_nothing(api):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        response = api(
            "POST", "/proxies", {"name": "b", "listen": f"127.0.0.1:{port}", "upstream": UPSTREAM}
        )
    assert response.status_code == 500
    assert error_of(response)["error"] == (
        f"listen tcp 127.0.0.1:{port}: bind: address already in use"
    )
    assert api("GET", "/proxies").json() == {}
    bogus = api("POST", "/proxies", {"name": "b", "listen": "bogus", "upstream": UPSTREAM})
    assert error_of(bogus) == {"error": "address bogus: missing port in address", "status": 500}


def test_patch_and_deprecated_post_update(api):
    proxy = create(api, "u")
    response = api("PATCH", "/proxies/u", {"enabled": False, "name": "renamed"})
    assert response.status_code == 200
    assert response.json()["enabled"] is False and response.json()["name"] == "u"
    assert api("POST", "/proxies/u", {"enabled": True}).json()["listen"] == proxy["listen"]
    moved = api("PATCH", "/proxies/u", {"upstream": "127.0.0.1:10"}).json()
    assert (moved["upstream"], moved["enabled"]) == ("127.0.0.1:10", True)
    bad = api("PATCH", "/proxies/u", {"listen": "bogus"})
    assert bad.status_code == 500
    assert api("GET", "/proxies/u").json()["listen"] == proxy["listen"]


def test_delete_is_204_then_404(api):
    create(api, "d")
    response = api("DELETE", "/proxies/d")
    assert response.status_code == 204 and response.content == b""
    assert api("DELETE", "/proxies/d").status_code == 404


def test_toxic_create_defaults_and_shape(api):
    create(api, "t")
    response = api("POST", "/proxies/t/toxics", {"type": "slicer"})
    assert response.status_code == 200
    toxic = response.json()
    assert list(toxic) == ["attributes", "name", "type", "stream", "toxicity"]
    assert toxic == {
        "attributes": {"average_size": 0, "size_variation": 0, "delay": 0},
        "name": "slicer_downstream",
        "type": "slicer",
        "stream": "downstream",
        "toxicity": 1,
    }
    shouty = api("POST", "/proxies/t/toxics", {"type": "latency", "stream": "UPSTREAM"}).json()
    assert (shouty["name"], shouty["stream"]) == ("latency_UPSTREAM", "UPSTREAM")
    half = api("POST", "/proxies/t/toxics", {"type": "noop", "toxicity": 0.5}).json()
    assert half["toxicity"] == 0.5
    listed = api("GET", "/proxies/t/toxics").json()
    assert [t["name"] for t in listed] == [
        "latency_UPSTREAM",
        "slicer_downstream",
        "noop_downstream",
    ]
    assert api("GET", "/proxies/t").json()["toxics"] == listed


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        (
            {"type": "latency", "stream": "sideways"},
            400,
            "stream was invalid, can be either upstream or downstream",
        ),
        ({}, 400, "invalid toxic type"),
        ({"type": "down"}, 400, "invalid toxic type"),
        ({"type": "latency", "name": "taken"}, 409, "toxic already exists"),
        (
            {"type": "latency", "attributes": {"latency": "300"}},
            400,
            "bad request body: json: cannot unmarshal string into Go struct field "
            "LatencyToxic.attributes.latency of type int64",
        ),
    ],
)
def test_toxic_create_errors(api, body, status, message):
    create(api, "e")
    api("POST", "/proxies/e/toxics", {"type": "noop", "name": "taken", "stream": "upstream"})
    response = api("POST", "/proxies/e/toxics", body)
    assert response.status_code == status
    assert error_of(response) == {"error": message, "status": status}


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b'{"type":"noop","toxicity":2.0}', "toxicity must be a number from 0 to 1, not 2.0"),
        (b'{"type":"noop","toxicity":-1}', "toxicity must be a number from 0 to 1, not -1"),
        (b'{"type":"noop","toxicity":1e999}', "toxicity must be a number from 0 to 1, not inf"),
        (
            b'{"type":"noop","toxicity":NaN}',
            "bad request body: invalid character 'N' looking for beginning of value",
        ),
        (
            b'{"type":"noop","toxicity":-Infinity}',
            "bad request body: invalid character 'I' in numeric literal",
        ),
    ],
)
def test_toxicity_that_is_not_a_probability_is_refused(api, raw, message):
    """Toxiproxy itself takes any float (and Python's decoder NaN, which it then echoed back
    as invalid JSON): refused on create and update alike, and the toxic stays as it was."""
    create(api, "p")
    path = "/proxies/p/toxics"
    refused = api("POST", path, raw=raw)
    assert refused.status_code == 400
    assert error_of(refused) == {"error": message, "status": 400}
    assert api("GET", path).json() == []
    kept = api("POST", path, {"type": "noop", "toxicity": 0.25}).json()
    refused = api("PATCH", f"{path}/noop_downstream", raw=raw)
    assert error_of(refused) == {"error": message, "status": 400}
    assert api("GET", f"{path}/noop_downstream").json() == kept


def test_toxic_on_unknown_proxy_is_404_first(api):
    response = api("POST", "/proxies/nope/toxics", {})
    assert error_of(response) == {"error": "proxy not found", "status": 404}


def test_toxic_get_update_delete(api):
    create(api, "g")
    api("POST", "/proxies/g/toxics", {"type": "latency", "attributes": {"latency": 300}})
    path = "/proxies/g/toxics/latency_downstream"
    assert api("GET", path).json()["attributes"] == {"latency": 300, "jitter": 0}
    updated = api("PATCH", path, {"attributes": {"jitter": 5}, "name": "x", "stream": "upstream"})
    assert updated.status_code == 200
    assert updated.json()["attributes"] == {"latency": 300, "jitter": 5}
    assert updated.json()["name"] == "latency_downstream"
    assert updated.json()["stream"] == "downstream"
    assert api("POST", path, {"toxicity": 0.25}).json()["toxicity"] == 0.25
    assert api("GET", path).json()["attributes"]["jitter"] == 5
    assert error_of(api("PATCH", "/proxies/g/toxics/nope", {})) == {
        "error": "toxic not found",
        "status": 404,
    }
    assert api("DELETE", path).status_code == 204
    assert api("GET", path).status_code == 404
    assert api("DELETE", path).status_code == 404


def test_reset_is_204_ignores_body_enables_and_clears(api):
    create(api, "r", enabled=False)
    create(api, "s")
    api("POST", "/proxies/s/toxics", {"type": "latency"})
    response = api("POST", "/reset", raw=b"garbage")
    assert response.status_code == 204 and response.content == b""
    proxies = api("GET", "/proxies").json()
    assert proxies["r"]["enabled"] is True and proxies["s"]["toxics"] == []


def test_populate_creates_keeps_and_replaces():
    echo = EchoServer()
    try:
        with running_server() as srv:
            base = srv.url
            items = [{"name": "a", "upstream": echo.address, "listen": "127.0.0.1:0"}]
            first = requests.post(base + "/populate", json=items, timeout=10)
            assert first.status_code == 201
            proxy = first.json()["proxies"][0]
            requests.post(base + "/proxies/a/toxics", json={"type": "latency"}, timeout=10)
            same = [{"name": "a", "upstream": echo.address, "listen": proxy["listen"]}]
            kept = requests.post(base + "/populate", json=same, timeout=10).json()["proxies"][0]
            assert kept["listen"] == proxy["listen"] and len(kept["toxics"]) == 1
            moved = [{"name": "a", "upstream": "127.0.0.1:9", "listen": proxy["listen"]}]
            replaced = requests.post(base + "/populate", json=moved, timeout=10).json()
            assert replaced["proxies"][0]["toxics"] == []
            assert replaced["proxies"][0]["upstream"] == "127.0.0.1:9"
    finally:
        echo.stop()


def test_populate_errors_are_json_with_the_proxies_made_so_far(api):
    bad = api("POST", "/populate", [{"name": "a", "upstream": UPSTREAM}, {"upstream": UPSTREAM}])
    assert bad.status_code == 400
    assert bad.headers["Content-Type"] == "application/json"
    assert bad.json() == {
        "error": "missing required field: name at proxy 2",
        "status": 400,
        "proxies": None,
    }
    assert api("GET", "/proxies").json() == {}
    obj = api("POST", "/populate", {"name": "a"})
    assert obj.status_code == 400 and obj.json()["error"].startswith(
        "bad request body: json: cannot unmarshal object into Go value of type []struct"
    )
    items = [
        {"name": "ok", "upstream": UPSTREAM, "listen": "127.0.0.1:0"},
        {"name": "broken", "upstream": UPSTREAM, "listen": "bogus"},
    ]
    partial = api("POST", "/populate", items)
    assert partial.status_code == 500
    body = partial.json()
    assert body["error"] == "address bogus: missing port in address"
    assert [p["name"] for p in body["proxies"]] == ["ok"]
    assert set(api("GET", "/proxies").json()) == {"ok"}


def test_unknown_path_wrong_method_and_browsers(api):
    missing = api("GET", "/nothing")
    assert missing.status_code == 404 and missing.text == "404 page not found\n"
    assert "X-Toxiproxy-Request-Id" not in missing.headers
    assert api("GET", "/metrics").status_code == 404
    wrong = api("PUT", "/proxies")
    assert wrong.status_code == 405 and wrong.content == b""
    browser = api("GET", "/proxies", headers={"User-Agent": "Mozilla/5.0"})
    assert browser.status_code == 403 and browser.text == "User agent not allowed\n"


def test_embedded_server_in_a_running_loop():
    from chaos.toxiproxy import ToxiproxyServer

    async def main() -> tuple[int, str]:
        server = ToxiproxyServer("127.0.0.1", 0, seed=1)
        host, port = await server.start()
        try:
            url = f"http://{host}:{port}/version"
            response = await asyncio.to_thread(requests.get, url, timeout=10)
            return port, response.json()["version"]
        finally:
            await server.stop()

    port, version = asyncio.run(main())
    assert port > 0 and version == "2.12.0"
