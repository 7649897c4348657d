"""Admin HTTP API for the dead letter queue (aiohttp): list, inspect, replay and purge entries.

Every route but `GET /healthz` needs an API key from `MDC_API_KEYS` (comma-separated), sent as
`X-API-Key: KEY` or `Authorization: Bearer KEY`: none gives 401, a wrong one 403. The check is
serve.auth's KeyRing (constant-time, shared with the prediction API).

Errors are JSON `{"error": message, "field": name?}`: 422 for bad input (naming the field), 404 for
an unknown entry, 409 when the store or DLQ is locked by another process, 503 when the disk fails.
DLQ calls block on fsync, so they run in a worker thread, one at a time under `lock` (pass the
collector's lock when it shares the DLQ object).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import threading
import time
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from typing import Any

import msgspec
from aiohttp import web

from mdc.dlq import DeadLetterQueue, Entry, Filter, Sink
from mdc.dlq.errors import BadFilter, DLQLocked, UnknownEntry
from mdc.errors import CollectorError
from mdc.events import to_json
from mdc.store.errors import StorageError, StoreLocked
from mdc.store.replay import BadArgument, parse_time
from serve.auth import AuthResult, KeyRing, api_keys_from_env, presented_key

KeyCheck = KeyRing  # the name this module's callers have used

FILTER_FIELDS = ("cause", "venue", "state", "since", "until")
DEFAULT_LIMIT, MAX_LIMIT = 100, 10_000
MAX_ID = 2**63 - 1
"""Largest DLQ entry id: ids are msgpack integers, kept within a signed 64-bit range."""
OpenSink = Callable[[], AbstractContextManager[Sink]]


class Invalid(CollectorError):
    """A request field the API cannot use; answered with 422 naming the field."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


def _presented_key(request: web.Request) -> str | None:
    return presented_key(request.headers.get("X-API-Key"), request.headers.get("Authorization"))


def _json(body: object, status: int = 200) -> web.Response:
    return web.Response(
        body=msgspec.json.encode(body), status=status, content_type="application/json"
    )


def _error(status: int, message: str, field: str | None = None) -> web.Response:
    body = {"error": message} if field is None else {"error": message, "field": field}
    return _json(body, status)


ERROR_STATUS: tuple[tuple[type[Exception], int], ...] = (
    (UnknownEntry, 404),
    (Invalid, 422),
    (BadFilter, 422),
    (BadArgument, 422),
    (DLQLocked, 409),
    (StoreLocked, 409),
    (StorageError, 503),
    (CollectorError, 400),
)


@web.middleware
async def _errors(request: web.Request, handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return _error(exc.status, exc.reason)
    except CollectorError as exc:
        status = next(code for kind, code in ERROR_STATUS if isinstance(exc, kind))
        return _error(status, str(exc), getattr(exc, "field", None))


def _auth(check: KeyRing):
    @web.middleware
    async def middleware(request: web.Request, handler) -> web.StreamResponse:
        if request.path == "/healthz":
            return await handler(request)
        result = check.check(_presented_key(request))
        if result is not AuthResult.OK:
            response = _error(result.status, result.message)
            if result is AuthResult.MISSING:
                response.headers["WWW-Authenticate"] = "Bearer"
            return response
        return await handler(request)

    return middleware


# -- request parsing --------------------------------------------------------------------------


def _time(field: str, value: object) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if not isinstance(value, str):
        raise Invalid(field, "must be RFC 3339 text, a date or integer nanoseconds")
    try:
        return parse_time(value)
    except BadArgument as exc:
        raise Invalid(field, str(exc)) from exc


def _filter(fields: Mapping[str, object]) -> Filter:
    for name in ("cause", "venue", "state"):
        if not isinstance(fields.get(name, ""), str):
            raise Invalid(name, "must be a string")
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
            raise Invalid(name, f"unknown {where}; use {', '.join(allowed)}")


def _bounded_int(field: str, text: str, maximum: int) -> int:
    """`text` as an integer from 1 to `maximum`, else 422. ASCII digits only: `str.isdigit`
    also passes superscript two (which `int` rejects) and full-width digits (which `int` reads),
    and the length check keeps `int` off thousands of digits (over 4300 it raises)."""
    digits = text.isascii() and text.isdigit() and len(text) <= len(str(maximum))
    if not digits or not 1 <= int(text) <= maximum:
        raise Invalid(field, f"must be an integer from 1 to {maximum}")
    return int(text)


def _limit(text: str | None) -> int:
    return DEFAULT_LIMIT if text is None else _bounded_int("limit", text, MAX_LIMIT)


def _entry_id(request: web.Request) -> int:
    return _bounded_int("id", request.match_info["id"], MAX_ID)


def _ids(value: object) -> list[int]:
    if (
        not isinstance(value, list)
        or not value
        or not all(
            isinstance(v, int) and not isinstance(v, bool) and 0 < v <= MAX_ID for v in value
        )
    ):
        raise Invalid("ids", f"must be a non-empty list of integers from 1 to {MAX_ID}")
    return value


def _selection_from_body(body: object) -> Filter | list[int]:
    if not isinstance(body, dict):
        raise Invalid(
            "body", 'must be a JSON object: {"ids": [...]}, {"filter": {...}} or {"all": true}'
        )
    _only(body, ("ids", "filter", "all"), "body field")
    if len(body) != 1:
        raise Invalid("body", 'give exactly one of "ids", "filter" or "all"')
    if "ids" in body:
        return _ids(body["ids"])
    if "all" in body:
        if body["all"] is not True:
            raise Invalid("all", "must be true")
        return Filter()
    if not isinstance(body["filter"], dict) or not body["filter"]:
        raise Invalid("filter", f"must be a non-empty object with {', '.join(FILTER_FIELDS)}")
    _only(body["filter"], FILTER_FIELDS, "filter field")
    return _filter(body["filter"])


async def _body(request: web.Request) -> object:
    try:
        return await request.json(loads=msgspec.json.decode)
    except (msgspec.DecodeError, UnicodeDecodeError) as exc:
        raise Invalid("body", f"not valid JSON ({exc})") from exc


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


# -- the app ----------------------------------------------------------------------------------


class AdminApi:
    """Route handlers over one DLQ; `open_sink` gives the durable target of replays."""

    def __init__(
        self,
        dlq: DeadLetterQueue,
        open_sink: OpenSink,
        lock: threading.Lock,
        clock_ns: Callable[[], int],
    ) -> None:
        self.dlq, self.open_sink, self.lock, self.clock_ns = dlq, open_sink, lock, clock_ns

    async def _call(self, fn: Callable[..., Any], *args: Any) -> Any:
        def locked() -> Any:
            with self.lock:
                return fn(*args)

        return await asyncio.to_thread(locked)

    def _replay(self, selection: Filter | list[int]) -> dict[str, Any]:
        with self.open_sink() as sink:
            report = self.dlq.replay(selection, sink, self.clock_ns())
        return {
            "replayed": report.replayed,
            "failed": {str(k): v for k, v in report.failed.items()},
        }

    async def healthz(self, request: web.Request) -> web.Response:
        return _json({"status": "ok"})

    async def list_entries(self, request: web.Request) -> web.Response:
        _only(request.query, (*FILTER_FIELDS, "limit"), "query parameter")
        where, limit = _filter(request.query), _limit(request.query.get("limit"))
        entries = await self._call(self.dlq.list, where, limit)
        counts = await self._call(self.dlq.counts)
        return _json({"entries": [_summary(e) for e in entries], "counts": counts})

    async def show(self, request: web.Request) -> web.Response:
        return _json(_detail(await self._call(self.dlq.get, _entry_id(request))))

    async def replay(self, request: web.Request) -> web.Response:
        selection = _selection_from_body(await _body(request))
        return _json(await self._call(self._replay, selection))

    async def replay_one(self, request: web.Request) -> web.Response:
        return _json(await self._call(self._replay, [_entry_id(request)]))

    async def purge(self, request: web.Request) -> web.Response:
        query = request.query
        _only(query, (*FILTER_FIELDS, "all"), "query parameter")
        if "all" in query and query["all"] != "true":
            raise Invalid("all", "must be true")
        where = _filter({k: v for k, v in query.items() if k != "all"})
        if where.empty and "all" not in query:
            raise Invalid(
                "filter", "purge needs a filter (cause, venue, state, since, until) or all=true"
            )
        purged = await self._call(self.dlq.purge, where, self.clock_ns())
        return _json({"purged": purged})


def build_app(
    dlq: DeadLetterQueue,
    open_sink: OpenSink,
    *,
    api_keys: tuple[str, ...] | None = None,
    lock: threading.Lock | None = None,
    clock_ns: Callable[[], int] = time.time_ns,
) -> web.Application:
    """The admin app; keys default to $MDC_API_KEYS and must not be empty (ConfigError)."""
    check = KeyRing(api_keys if api_keys is not None else api_keys_from_env())
    api = AdminApi(dlq, open_sink, lock or threading.Lock(), clock_ns)
    app = web.Application(middlewares=[_errors, _auth(check)], client_max_size=1024 * 1024)
    app.add_routes(
        [
            web.get("/healthz", api.healthz),
            web.get("/v1/dlq", api.list_entries),
            web.delete("/v1/dlq", api.purge),
            web.post("/v1/dlq/replay", api.replay),
            web.get("/v1/dlq/{id}", api.show),
            web.post("/v1/dlq/{id}/replay", api.replay_one),
        ]
    )
    return app


def run_admin(host: str = "127.0.0.1", port: int = 8081, data_dir: str = "./data") -> None:
    """Serve the admin API for the DLQ and store at `data_dir` until interrupted."""
    from mdc.dlq.sinks import store_sink  # noqa: PLC0415 - DuckDB only when serving

    keys = api_keys_from_env()
    dlq = DeadLetterQueue.open(data_dir)
    app = build_app(dlq, lambda: store_sink(data_dir), api_keys=keys)

    async def close_dlq(_: web.Application) -> None:
        dlq.close()

    app.on_cleanup.append(close_dlq)
    web.run_app(app, host=host, port=port, print=None)


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
