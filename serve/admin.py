"""The dead letter queue's admin routes (FastAPI): list, inspect, replay and purge entries.

`dlq_router` mounts them in any serve.jsonapi app: the prediction API (`serve.app.build_app(...,
dlq=...)`) or the standalone app of `python -m serve.admin` (keys from `MDC_API_KEYS`). Every route
needs one of the app's keys, checked by serve.jsonapi's key dependency as in the prediction API.

Errors are JSON `{"error": message, "field": name?}`: 422 for bad input (naming the field), 404 for
an unknown entry, 409 when the store or DLQ is locked by another process, 503 when the disk fails.
DLQ calls block on fsync, so they run in a worker thread, one at a time under `lock` (pass the
collector's lock when it shares the DLQ object).
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from collections.abc import Callable, Coroutine, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any

import msgspec
import uvicorn
from fastapi import APIRouter, Depends, FastAPI, Request, Response
from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool

from mdc.dlq import DeadLetterQueue, Entry, Filter, Sink
from mdc.dlq.errors import BadFilter, DLQLocked, UnknownEntry
from mdc.errors import CollectorError
from mdc.events import to_json
from mdc.store.errors import StorageError, StoreLocked
from mdc.store.replay import BadArgument, parse_time
from serve.auth import KeyRing, api_keys_from_env
from serve.http_limits import uvicorn_config
from serve.jsonapi import (
    MAX_INFLIGHT,
    ApiError,
    invalid,
    json_body_doc,
    json_response,
    key_dependency,
    new_app,
    read_json,
)

FILTER_FIELDS = ("cause", "venue", "state", "since", "until")
DEFAULT_LIMIT, MAX_LIMIT = 100, 10_000
MAX_ID = 2**63 - 1
"""Largest DLQ entry id: ids are msgpack integers, kept within a signed 64-bit range."""
MAX_BODY_BYTES = 1024 * 1024
"""A replay body's bound (room for ~50,000 ids); above it 413 without a field, as it always was."""
OpenSink = Callable[[], AbstractContextManager[Sink]]

ERROR_STATUS: tuple[tuple[type[Exception], int], ...] = (
    (UnknownEntry, 404),
    (BadFilter, 422),
    (BadArgument, 422),
    (DLQLocked, 409),
    (StoreLocked, 409),
    (StorageError, 503),
    (CollectorError, 400),
)
"""HTTP status of the DLQ's and store's typed errors, most specific first."""


def _api_error(exc: CollectorError) -> ApiError:
    status = next(code for kind, code in ERROR_STATUS if isinstance(exc, kind))
    return ApiError(status, str(exc), getattr(exc, "field", None))


class _DlqRoute(APIRoute):
    """A route answering typed collector errors by ERROR_STATUS, wherever in the route they
    arise, so the router needs no exception handler on the app that mounts it."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def mapped(request: Request) -> Response:
            try:
                return await handler(request)
            except CollectorError as exc:
                raise _api_error(exc) from exc

        return mapped


# -- request parsing --------------------------------------------------------------------------


def _time(field: str, value: object) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if not isinstance(value, str):
        raise invalid(field, "must be RFC 3339 text, a date or integer nanoseconds")
    try:
        return parse_time(value)
    except BadArgument as exc:
        raise invalid(field, str(exc)) from exc


def _filter(fields: Mapping[str, object]) -> Filter:
    for name in ("cause", "venue", "state"):
        if not isinstance(fields.get(name, ""), str):
            raise invalid(name, "must be a string")
    times = {k: _time(k, fields[k]) for k in ("since", "until") if k in fields}
    return Filter(
        cause=fields.get("cause"),  # type: ignore[arg-type]
        venue=fields.get("venue"),  # type: ignore[arg-type]
        state=fields.get("state"),  # type: ignore[arg-type]
        **times,
    )


def _only(fields: Mapping[str, object], allowed: tuple[str, ...], where: str) -> None:
    for name in fields:
        if name not in allowed:
            raise invalid(name, f"unknown {where}; use {', '.join(allowed)}")


def _bounded_int(field: str, text: str, maximum: int) -> int:
    """`text` as an integer from 1 to `maximum`, else 422. ASCII digits only: `str.isdigit`
    also passes superscript two (which `int` rejects) and full-width digits (which `int` reads),
    and the length check keeps `int` off thousands of digits (over 4300 it raises)."""
    digits = text.isascii() and text.isdigit() and len(text) <= len(str(maximum))
    if not digits or not 1 <= int(text) <= maximum:
        raise invalid(field, f"must be an integer from 1 to {maximum}")
    return int(text)


def _limit(text: str | None) -> int:
    return DEFAULT_LIMIT if text is None else _bounded_int("limit", text, MAX_LIMIT)


def _entry_id(request: Request) -> int:
    return _bounded_int("id", request.path_params["id"], MAX_ID)


def _ids(value: object) -> list[int]:
    if (
        not isinstance(value, list)
        or not value
        or not all(
            isinstance(v, int) and not isinstance(v, bool) and 0 < v <= MAX_ID for v in value
        )
    ):
        raise invalid("ids", f"must be a non-empty list of integers from 1 to {MAX_ID}")
    return value


def _selection_from_body(body: object) -> Filter | list[int]:
    if not isinstance(body, dict):
        raise invalid(
            "body", 'must be a JSON object: {"ids": [...]}, {"filter": {...}} or {"all": true}'
        )
    _only(body, ("ids", "filter", "all"), "body field")
    if len(body) != 1:
        raise invalid("body", 'give exactly one of "ids", "filter" or "all"')
    if "ids" in body:
        return _ids(body["ids"])
    if "all" in body:
        if body["all"] is not True:
            raise invalid("all", "must be true")
        return Filter()
    if not isinstance(body["filter"], dict) or not body["filter"]:
        raise invalid("filter", f"must be a non-empty object with {', '.join(FILTER_FIELDS)}")
    _only(body["filter"], FILTER_FIELDS, "filter field")
    return _filter(body["filter"])


def _query(request: Request) -> dict[str, str]:
    """The query's parameters; of a repeated one, the first value (as the API always took)."""
    return dict(reversed(request.query_params.multi_items()))


# -- responses --------------------------------------------------------------------------------


def _summary(entry: Entry) -> dict[str, Any]:
    return {
        "id": entry.id,
        "state": entry.state,
        "cause": entry.cause,
        "venue": entry.venue,
        "created_ns": entry.created_ns,
        "updated_ns": entry.updated_ns,
        "attempts": entry.attempts,
        "next_attempt_ns": entry.next_attempt_ns,
        "error": entry.error,
        "kind": entry.kind,
        "payload_bytes": entry.payload_bytes,
    }


def _detail(entry: Entry) -> dict[str, Any]:
    body = _summary(entry)
    if entry.raw is not None:
        text, encoding = entry.raw_text()
        body["raw"], body["raw_encoding"] = text, encoding
    else:
        body["events"] = [msgspec.Raw(to_json(e)) for e in entry.decoded_events()]
    return body


# -- the routes -------------------------------------------------------------------------------

REPLAY_BODY = json_body_doc(
    {
        "type": "object",
        "minProperties": 1,
        "maxProperties": 1,
        "additionalProperties": False,
        "properties": {
            "ids": {"type": "array", "minItems": 1, "items": {"type": "integer", "minimum": 1}},
            "filter": {"type": "object", "minProperties": 1},
            "all": {"const": True},
        },
    }
)


@dataclass(frozen=True)
class DlqAdmin:
    """Route handlers over one DLQ; `open_sink` gives the durable target of replays."""

    dlq: DeadLetterQueue
    open_sink: OpenSink
    lock: threading.Lock = field(default_factory=threading.Lock)
    clock_ns: Callable[[], int] = time.time_ns

    async def _call(self, fn: Callable[..., Any], *args: Any) -> Any:
        def locked() -> Any:
            with self.lock:
                return fn(*args)

        return await run_in_threadpool(locked)

    def _replay(self, selection: Filter | list[int]) -> dict[str, Any]:
        with self.open_sink() as sink:
            report = self.dlq.replay(selection, sink, self.clock_ns())
        return {
            "replayed": report.replayed,
            "failed": {str(k): v for k, v in report.failed.items()},
        }

    async def list_entries(self, request: Request) -> Response:
        query = _query(request)
        _only(query, (*FILTER_FIELDS, "limit"), "query parameter")
        where, limit = _filter(query), _limit(query.get("limit"))
        entries = await self._call(self.dlq.list, where, limit)
        counts = await self._call(self.dlq.counts)
        return json_response({"entries": [_summary(e) for e in entries], "counts": counts})

    async def show(self, request: Request) -> Response:
        return json_response(_detail(await self._call(self.dlq.get, _entry_id(request))))

    async def replay(self, request: Request) -> Response:
        body = await read_json(request, MAX_BODY_BYTES, too_large_field=None)
        return json_response(await self._call(self._replay, _selection_from_body(body)))

    async def replay_one(self, request: Request) -> Response:
        return json_response(await self._call(self._replay, [_entry_id(request)]))

    async def purge(self, request: Request) -> Response:
        query = _query(request)
        _only(query, (*FILTER_FIELDS, "all"), "query parameter")
        if "all" in query and query["all"] != "true":
            raise invalid("all", "must be true")
        where = _filter({k: v for k, v in query.items() if k != "all"})
        if where.empty and "all" not in query:
            raise invalid(
                "filter", "purge needs a filter (cause, venue, state, since, until) or all=true"
            )
        purged = await self._call(self.dlq.purge, where, self.clock_ns())
        return json_response({"purged": purged})


def dlq_router(admin: DlqAdmin, keys: KeyRing) -> APIRouter:
    """The admin routes over `admin`, each behind `keys`."""
    router = APIRouter(route_class=_DlqRoute, dependencies=[Depends(key_dependency(keys))])
    router.add_api_route("/v1/dlq", admin.list_entries, methods=["GET"])
    router.add_api_route("/v1/dlq", admin.purge, methods=["DELETE"])
    router.add_api_route(
        "/v1/dlq/replay", admin.replay, methods=["POST"], openapi_extra=REPLAY_BODY
    )
    router.add_api_route("/v1/dlq/{id}", admin.show, methods=["GET"])
    router.add_api_route("/v1/dlq/{id}/replay", admin.replay_one, methods=["POST"])
    return router


def build_app(admin: DlqAdmin, keys: KeyRing, max_inflight: int = MAX_INFLIGHT) -> FastAPI:
    """The standalone admin app: health, the keyed OpenAPI document and the DLQ routes."""
    app = new_app("mdc DLQ admin API", keys, max_inflight)
    app.include_router(dlq_router(admin, keys))
    return app


def run_admin(host: str = "127.0.0.1", port: int = 8081, data_dir: str = "./data") -> None:
    """Serve the admin API for the DLQ and store at `data_dir` until interrupted."""
    from mdc.dlq.sinks import store_sink  # noqa: PLC0415 - DuckDB only when serving

    keys = KeyRing(api_keys_from_env())
    with DeadLetterQueue.open(data_dir) as dlq:
        app = build_app(DlqAdmin(dlq, lambda: store_sink(data_dir)), keys)
        uvicorn.Server(uvicorn_config(app, host=host, port=port, access_log=False)).run()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m serve.admin", description=run_admin.__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8081)
    parser.add_argument("--data-dir", default=os.environ.get("MDC_DATA_DIR") or "./data")
    args = parser.parse_args(argv)
    try:
        run_admin(args.host, args.port, args.data_dir)
    except CollectorError as exc:
        print(f"{parser.prog}: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
