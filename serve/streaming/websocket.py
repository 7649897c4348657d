"""`/v1/stream`: the gRPC market data for browsers, over a WebSocket on the API's ingress.

    ws://HOST:PORT/v1/stream?type=trades&symbols=BTC-*&from=live

The key comes in the `X-API-Key` (or `Authorization: Bearer`) header or, for browsers, which
cannot set headers on a WebSocket, in a first text message `{"api_key": "..."}` that may also
carry the subscription (its fields override the query's: type, venues, symbols, from, policy,
levels, conflate_ms, interval_s). Each event is one text message: `mdc normalize`'s JSON plus
`position`; a later connection with `from=<position>` resumes after it with nothing missed.

It is a client of the gRPC server (same filters, starts, policies and checks, one place), with
the presented key. Closes: 1008 a missing or wrong key; 1003 a bad message or subscription (the
reason names the field); 1013 a DISCONNECT subscriber that fell too far behind (reconnect from
the last position); 1011 when no gRPC server runs beside the API. At most `MAX_STREAMS` streams
per replica; more are closed 1013 at once.
"""

from __future__ import annotations

import asyncio
from typing import Any

import grpc
import msgspec
from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from mdc.client import KINDS, POLICIES, AsyncMarketDataClient, SubscriptionError, start_from_text
from mdc.distribution.encode import to_json_line
from mdc.store.replay import BadArgument
from serve.auth import AuthResult, KeyRing, presented_key

MAX_STREAMS = 256
FIRST_MESSAGE_S = 10.0
POLICY_VIOLATION, UNSUPPORTED, INTERNAL, TRY_AGAIN = 1008, 1003, 1011, 1013
_REFUSED = {
    grpc.StatusCode.INVALID_ARGUMENT: UNSUPPORTED,
    grpc.StatusCode.OUT_OF_RANGE: UNSUPPORTED,
    grpc.StatusCode.UNAUTHENTICATED: POLICY_VIOLATION,
    grpc.StatusCode.PERMISSION_DENIED: POLICY_VIOLATION,
    grpc.StatusCode.RESOURCE_EXHAUSTED: TRY_AGAIN,
}
_LISTS = ("venues", "symbols")
_INTS = ("levels", "conflate_ms", "interval_s")
FIELDS = ("api_key", "type", "from", "policy", *_LISTS, *_INTS)


class BadStreamRequest(Exception):
    """A subscription the WebSocket cannot start: closed 1003 with this reason."""


def _reason(text: str) -> str:
    """A close reason fits in 123 bytes of UTF-8."""
    data = text.encode()
    return text if len(data) <= 123 else data[:120].decode(errors="ignore") + "..."


def _params(fields: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """(kind, subscribe() keyword arguments) from query/first-message fields."""
    unknown = sorted(set(fields) - set(FIELDS))
    if unknown:
        raise BadStreamRequest(f"{unknown[0]}: unknown field; use {', '.join(FIELDS[1:])}")
    kind = fields.get("type", "trades")
    if kind not in KINDS:
        raise BadStreamRequest(f"type: {kind!r} is not one of {', '.join(KINDS)}")
    policy = fields.get("policy")
    if policy is not None and policy not in POLICIES:
        raise BadStreamRequest(f"policy: {policy!r} is not one of {', '.join(POLICIES)}")
    params: dict[str, Any] = {"policy": policy}
    for name in _LISTS:
        value = fields.get(name, [])
        params[name] = [v for v in value.split(",") if v] if isinstance(value, str) else value
        if not all(isinstance(v, str) for v in params[name]):
            raise BadStreamRequest(f"{name}: a list of strings, or one comma-separated string")
    for name in _INTS:
        if name in fields:
            try:
                params[name] = int(fields[name])
            except (TypeError, ValueError):
                raise BadStreamRequest(f"{name}: must be an integer") from None
    start = fields.get("from", "live")
    try:
        params["start"] = start if isinstance(start, int) else start_from_text(str(start))
    except BadArgument as exc:
        raise BadStreamRequest(f"from: {exc}") from None
    return kind, params


class StreamEndpoint:
    def __init__(self, target: str | None, keys: KeyRing) -> None:
        self._target = target
        self._keys = keys
        self._open = 0

    async def serve(self, ws: WebSocket) -> None:
        await ws.accept()
        if self._open >= MAX_STREAMS:
            await ws.close(TRY_AGAIN, f"busy: {MAX_STREAMS} streams open; retry")
            return
        self._open += 1
        try:
            await self._serve(ws)
        except WebSocketDisconnect:
            pass
        finally:
            self._open -= 1

    async def _serve(self, ws: WebSocket) -> None:
        fields: dict[str, Any] = dict(ws.query_params)
        key = presented_key(ws.headers.get("x-api-key"), ws.headers.get("authorization"))
        if key is None:
            first = await self._first_message(ws)
            if first is None:
                return
            fields |= first
            key = first.get("api_key") if isinstance(first.get("api_key"), str) else None
        fields.pop("api_key", None)
        result = self._keys.check(key)
        if result is not AuthResult.OK:
            await ws.close(POLICY_VIOLATION, result.message)
            return
        try:
            kind, params = _params(fields)
        except BadStreamRequest as exc:
            await ws.close(UNSUPPORTED, _reason(str(exc)))
            return
        if self._target is None:
            await ws.close(INTERNAL, "no live stream here: the collector runs without gRPC")
            return
        await self._relay(ws, key, kind, params)  # type: ignore[arg-type]

    async def _first_message(self, ws: WebSocket) -> dict[str, Any] | None:
        receiving = asyncio.ensure_future(ws.receive_text())
        done, _ = await asyncio.wait({receiving}, timeout=FIRST_MESSAGE_S)
        if not done:  # close first: a cancelled receive would drop the connection unclosed
            await ws.close(POLICY_VIOLATION, "missing API key: send X-API-Key or a first message")
            receiving.cancel()
            return None
        try:
            first = msgspec.json.decode(receiving.result())
        except (msgspec.DecodeError, KeyError, UnicodeDecodeError):
            await ws.close(UNSUPPORTED, 'first message: a JSON object {"api_key": ...}')
            return None
        if not isinstance(first, dict):
            await ws.close(UNSUPPORTED, 'first message: a JSON object {"api_key": ...}')
            return None
        return first

    async def _relay(self, ws: WebSocket, key: str, kind: str, params: dict[str, Any]) -> None:
        """Events from gRPC to the socket until either side ends; what the client sends now is
        read only to notice that it went away."""
        gone = asyncio.ensure_future(_until_closed(ws))
        async with AsyncMarketDataClient(self._target, api_key=key, max_reconnects=0) as client:
            try:
                async for got in _racing(client.subscribe(kind, **params), gone):
                    await ws.send_text(to_json_line(got.event, got.position).decode())
            except SubscriptionError as exc:
                code = _REFUSED.get(exc.code, INTERNAL)
                await ws.close(code, _reason(exc.details))
            finally:
                gone.cancel()


async def _until_closed(ws: WebSocket) -> None:
    while (await ws.receive())["type"] != "websocket.disconnect":
        pass


async def _racing(events, gone: asyncio.Future):
    """`events` until `gone` completes (the client left): the stream is closed then."""
    iterator = events.__aiter__()
    try:
        while True:
            step = asyncio.ensure_future(iterator.__anext__())
            await asyncio.wait({step, gone}, return_when=asyncio.FIRST_COMPLETED)
            if gone.done():  # first: while events keep coming, `step` is always done too
                step.cancel()
                return
            try:
                got = step.result()
            except StopAsyncIteration:
                return
            yield got
    finally:
        await iterator.aclose()


def stream_router(target: str | None, keys: KeyRing) -> APIRouter:
    endpoint = StreamEndpoint(target, keys)
    router = APIRouter()

    @router.websocket("/v1/stream")
    async def stream(ws: WebSocket) -> None:
        await endpoint.serve(ws)

    return router
