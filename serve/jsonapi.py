"""What every mdc HTTP API shares (prediction API, DLQ admin): one FastAPI stack, one contract.

Errors are JSON `{"error": message, "field": name?}`, never a stack trace: an `ApiError` says
which, and anything unexpected is a logged 500. Every route but `GET /healthz` needs an API key
(serve.auth), `GET /openapi.json` included. Bodies are read by hand, bounded in size, and decoded
by msgspec (strict JSON), so a bad body is a 4xx naming the field, never a 500.

Health answers however busy the API is: it awaits nothing and is outside `InflightLimit`, which
answers every other request 503 at once while `max_inflight` are running.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

import msgspec
from fastapi import Depends, FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Receive, Scope, Send

from serve.auth import AuthResult, KeyRing, presented_key

log = logging.getLogger(__name__)

MAX_INFLIGHT = 128
"""Requests running at once: enough for 64 busy clients (benchmarks/serve.py) with room to
spare; admitted requests beyond anyio's 40 worker threads wait for one (inference takes
microseconds). Below Serve's `max_ongoing_requests` (256), so health finds the replica."""
HEALTH_PATH = "/healthz"
RETRY = {"Retry-After": "1"}
ErrorHandler = Callable[[Request, Exception], Awaitable[Response]]


class ApiError(Exception):
    """An answer other than 200, as JSON `{"error": message, "field": name?}`."""

    def __init__(
        self,
        status: int,
        message: str,
        field: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.message, self.field, self.headers = status, message, field, headers


def invalid(field: str, message: str) -> ApiError:
    """A 422 naming the request field the API cannot use."""
    return ApiError(422, f"{field}: {message}", field)


def json_response(body: object, status: int = 200, headers: dict | None = None) -> Response:
    return Response(msgspec.json.encode(body), status, headers, media_type="application/json")


def error_response(exc: ApiError) -> Response:
    body = {"error": exc.message} | ({"field": exc.field} if exc.field else {})
    return json_response(body, exc.status, exc.headers)


async def read_json(request: Request, max_bytes: int, too_large_field: str | None = "body") -> Any:
    """The body as JSON, refusing more than `max_bytes` before reading it all (413, naming
    `too_large_field`). Nesting deeper than msgspec's recursion bound is a 422, not a crash."""
    too_large = ApiError(413, f"body larger than {max_bytes} bytes", too_large_field)
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise too_large
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > max_bytes:
            raise too_large
        chunks.append(chunk)
    try:
        return msgspec.json.decode(b"".join(chunks))
    except msgspec.DecodeError as exc:
        raise invalid("body", f"not valid JSON ({exc})") from exc
    except RecursionError as exc:
        raise invalid("body", "JSON nested too deeply") from exc


def json_body_doc(schema: dict[str, Any]) -> dict[str, Any]:
    """OpenAPI `requestBody` of a route that parses its JSON body by hand."""
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


def key_dependency(keys: KeyRing) -> Callable[[Request], Awaitable[str]]:
    """FastAPI dependency: the request's API key, or a 401/403 ApiError."""

    async def require_key(request: Request) -> str:
        headers = request.headers
        key = presented_key(headers.get("x-api-key"), headers.get("authorization"))
        result = keys.check(key)
        if result is AuthResult.MISSING:
            raise ApiError(result.status, result.message, None, {"WWW-Authenticate": "Bearer"})
        if result is not AuthResult.OK:
            raise ApiError(result.status, result.message)
        return key  # type: ignore[return-value]

    return require_key


class InflightLimit:
    """ASGI wrapper running at most `limit` requests at once and answering the rest 503 at once
    (Retry-After: 1) instead of queueing them; `exempt` paths neither count nor wait."""

    def __init__(self, app: ASGIApp, limit: int, exempt: frozenset[str]) -> None:
        self.app, self.limit, self.exempt = app, limit, exempt
        self.inflight = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in self.exempt:
            await self.app(scope, receive, send)
        elif self.inflight >= self.limit:
            busy = ApiError(503, f"busy: {self.limit} requests running; retry", None, RETRY)
            await error_response(busy)(scope, receive, send)
        else:
            self.inflight += 1
            try:
                await self.app(scope, receive, send)
            finally:
                self.inflight -= 1


def _common_handlers() -> dict[type[Exception], ErrorHandler]:
    async def api_error(_: Request, exc: Exception) -> Response:
        return error_response(exc)  # type: ignore[arg-type]

    async def validation(_: Request, exc: Exception) -> Response:
        first = exc.errors()[0] if exc.errors() else {}  # type: ignore[attr-defined]
        field = str(first.get("loc", ("body",))[-1])
        return error_response(invalid(field, first.get("msg", "invalid")))

    async def http_error(_: Request, exc: Exception) -> Response:
        status, detail = exc.status_code, exc.detail  # type: ignore[attr-defined]
        return error_response(ApiError(status, str(detail), None, exc.headers))  # type: ignore[attr-defined]

    async def crash(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return error_response(ApiError(500, "internal error; the server log has the details"))

    return {
        ApiError: api_error,
        RequestValidationError: validation,
        HTTPException: http_error,
        Exception: crash,
    }


def new_app(
    title: str,
    keys: KeyRing,
    max_inflight: int = MAX_INFLIGHT,
    handlers: dict[type[Exception], ErrorHandler] | None = None,
) -> FastAPI:
    """A FastAPI app with the shared contract (errors, limit, health, keyed OpenAPI document);
    `handlers` answer an API's own exception types."""
    app = FastAPI(title=title, docs_url=None, redoc_url=None, openapi_url=None)
    app.add_middleware(InflightLimit, limit=max_inflight, exempt=frozenset({HEALTH_PATH}))
    for kind, handler in (_common_handlers() | (handlers or {})).items():
        app.add_exception_handler(kind, handler)

    @app.get(HEALTH_PATH)
    async def healthz() -> Response:
        return json_response({"status": "ok"})

    @app.get("/openapi.json", dependencies=[Depends(key_dependency(keys))], include_in_schema=False)
    async def openapi() -> Response:
        return json_response(app.openapi())

    return app
