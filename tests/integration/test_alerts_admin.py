"""Alerting's admin routes over real HTTP: silences created, listed and ended through the API
land in the file the CLI and the alert actor share; bad requests name the field; keys hold."""

from __future__ import annotations

import httpx

from mdc.alerts.silences import SilenceFile
from serve.http_limits import serving, uvicorn_config
from tests.unit.test_serve_doubles import store_app

KEY = "admin-test-key"
H = {"X-API-Key": KEY}


def test_silences_through_the_api(tmp_path):
    data = str(tmp_path)
    app = store_app(data, KEY)
    with serving(uvicorn_config(app, log_level="warning", lifespan="off")) as url:
        body = {"matchers": ["alertname=data_gap", "venue=kraken"], "duration": "1h"}
        made = httpx.post(f"{url}/v1/silences", json=body | {"comment": "maint"}, headers=H)
        assert made.status_code == 201, made.text
        silence = made.json()
        assert silence["state"] == "active" and silence["comment"] == "maint"
        assert list(SilenceFile.of(data).load()) == [silence["id"]]  # the shared file
        listed = httpx.get(f"{url}/v1/silences", headers=H).json()
        assert [s["id"] for s in listed] == [silence["id"]]

        ended = httpx.delete(f"{url}/v1/silences/{silence['id']}", headers=H)
        assert ended.status_code == 200 and ended.json()["state"] == "ended"
        again = httpx.delete(f"{url}/v1/silences/{silence['id']}", headers=H)
        assert again.status_code == 409 and "already ended" in again.json()["error"]
        assert httpx.delete(f"{url}/v1/silences/nope", headers=H).status_code == 404

        bad = httpx.post(
            f"{url}/v1/silences", json={"matchers": ["x"], "duration": "1h"}, headers=H
        )
        assert bad.status_code == 422 and bad.json()["field"] == "matchers"
        bad = httpx.post(f"{url}/v1/silences", json={**body, "duration": "soon"}, headers=H)
        assert bad.status_code == 422 and bad.json()["field"] == "duration"
        assert httpx.post(f"{url}/v1/silences", json=body).status_code == 401

        missing = httpx.get(f"{url}/v1/alerts", headers=H)
        assert missing.status_code == 404 and "--alerts" in missing.json()["error"]
