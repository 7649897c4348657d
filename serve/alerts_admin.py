"""Alerting's admin routes (FastAPI), beside the DLQ's and behind the same keys: what fires,
and silences (the same file `mdc alerts silence` writes, which the alert actor watches).

    GET    /v1/alerts           pending and firing alerts, as the alert actor last saved them
    GET    /v1/silences         every silence, with its state (active, pending, ended)
    POST   /v1/silences         {"matchers": ["alertname=data_gap"], "duration": "1h",
                                 "comment": "...", "createdBy": "..."} -> 201 {"id": ...}
    DELETE /v1/silences/{id}    end it now (404 unknown, 409 already ended)
"""

from __future__ import annotations

import os
import time

from fastapi import APIRouter, Depends, Request, Response

from mdc.alerts.expr import parse_duration
from mdc.alerts.files import ACTIVE_FILE
from mdc.alerts.silences import BadSilence, SilenceFile, silence_dict
from serve.auth import KeyRing
from serve.jsonapi import ApiError, invalid, json_response, key_dependency, read_json

MAX_BODY_BYTES = 64 * 1024


def alerts_router(data_dir: str, keys: KeyRing) -> APIRouter:
    router = APIRouter(dependencies=[Depends(key_dependency(keys))])
    silences = SilenceFile.of(data_dir)

    @router.get("/v1/alerts")
    async def active() -> Response:
        try:
            with open(os.path.join(data_dir, ACTIVE_FILE), "rb") as f:
                return Response(f.read(), media_type="application/json")
        except FileNotFoundError:
            raise ApiError(404, "no alert state: is the collector running with --alerts?") from None

    @router.get("/v1/silences")
    async def listing() -> Response:
        now = time.time_ns()
        return json_response([silence_dict(s, now) for s in silences.load().values()])

    @router.post("/v1/silences", status_code=201)
    async def create(request: Request) -> Response:
        body = await read_json(request, MAX_BODY_BYTES)
        if not isinstance(body, dict):
            raise invalid("body", "must be a JSON object")
        matchers = body.get("matchers")
        if not isinstance(matchers, list) or not all(isinstance(m, str) for m in matchers):
            raise invalid("matchers", 'must be a list like ["alertname=data_gap"]')
        try:
            duration = parse_duration(str(body.get("duration", "")))
        except ValueError as exc:
            raise invalid("duration", str(exc)) from exc
        now = time.time_ns()
        comment, author = str(body.get("comment", "")), str(body.get("createdBy", ""))
        try:
            silence = silences.add(matchers, now, now + duration, author, comment)
        except BadSilence as exc:
            raise invalid("matchers", str(exc)) from exc
        return json_response(silence_dict(silence, now), 201)

    @router.delete("/v1/silences/{silence_id}")
    async def expire(silence_id: str) -> Response:
        now = time.time_ns()
        known = silences.load().get(silence_id)
        if known is None:
            raise ApiError(404, f"no silence {silence_id!r}")
        try:
            silences.expire(silence_id, now)
        except BadSilence as exc:
            raise ApiError(409, str(exc)) from exc
        return json_response(silence_dict(silences.load()[silence_id], now))

    return router
