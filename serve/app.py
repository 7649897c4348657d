"""The prediction API (FastAPI): ONNX predictions, live features, model catalogue, A/B control.

One app object serves under plain uvicorn and as the Ray Serve ingress. Every route but
`GET /healthz` needs an API key (serve.auth), `GET /openapi.json` (the HTTP contract) included.
Bodies are parsed by hand (msgspec, strict JSON: no NaN or Infinity) so every bad request gets a
4xx JSON `{"error", "field"}` naming the field; anything unexpected is a logged JSON 500, never a
stack trace.

Health answers however busy the API is: it awaits nothing, and it is outside the in-flight limit
(`InflightLimit`) that answers every other request 503 at once when `max_inflight` are running.
Inference runs on worker threads, so a slow model never holds the event loop that health needs.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Awaitable, Callable
from typing import Any

import msgspec
import numpy as np
from fastapi import Depends, FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Receive, Scope, Send

from models.errors import ModelInputError
from serve.ab import ABRouter, Model, UnknownModel, check_weight
from serve.auth import AuthResult, KeyRing, presented_key
from serve.features_source import FeatureSource, FeatureSourceUnavailable

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 64 * 1024
MAX_NAME_CHARS = 64
MAX_INFLIGHT = 32
"""Requests running at once: below anyio's 40 worker threads, so an admitted request never
waits for one, and below Serve's `max_ongoing_requests` (100), so health finds the replica."""
HEALTH_PATH = "/healthz"
RETRY = {"Retry-After": "1"}
PREDICT_FIELDS = ("features", "venue", "symbol", "model")
AB_FIELDS = ("A", "B", "weight_b")


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
    return ApiError(422, f"{field}: {message}", field)


def json_response(body: object, status: int = 200, headers: dict | None = None) -> Response:
    return Response(msgspec.json.encode(body), status, headers, media_type="application/json")


def _error_response(exc: ApiError) -> Response:
    body = {"error": exc.message} | ({"field": exc.field} if exc.field else {})
    return json_response(body, exc.status, exc.headers)


# -- request parsing --------------------------------------------------------------------------


async def read_json(request: Request) -> Any:
    """The body as JSON, refusing more than MAX_BODY_BYTES before reading it all (413)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise ApiError(413, f"body larger than {MAX_BODY_BYTES} bytes", "body")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise ApiError(413, f"body larger than {MAX_BODY_BYTES} bytes", "body")
        chunks.append(chunk)
    try:
        return msgspec.json.decode(b"".join(chunks))
    except msgspec.DecodeError as exc:
        raise invalid("body", f"not valid JSON ({exc})") from exc


def _object(body: Any, allowed: tuple[str, ...]) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise invalid("body", "must be a JSON object")
    for name in body:
        if name not in allowed:
            raise invalid(name, f"unknown field; use {', '.join(allowed)}")
    return body


def _name(body: dict[str, Any], field: str) -> str:
    value = body.get(field)
    if not isinstance(value, str) or not 0 < len(value) <= MAX_NAME_CHARS:
        raise invalid(field, f"must be a non-empty string of at most {MAX_NAME_CHARS} characters")
    return value


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def explicit_matrix(values: Any, model: Model) -> np.ndarray:
    """A [1, n] float32 matrix from the request's `features`, checked against the model."""
    n = len(model.features)
    if not isinstance(values, list) or not all(map(_number, values)):
        raise invalid("features", f"must be a list of {n} numbers")
    if len(values) != n:
        raise invalid("features", f"has {len(values)} values; model {model.version} takes {n}")
    x = np.asarray(values, dtype=np.float64).reshape(1, n)
    if not np.isfinite(x).all() or (np.abs(x) > np.finfo(np.float32).max).any():
        raise invalid("features", "values must be finite and within float32 range")
    return x.astype(np.float32)


def _route_args(body: dict[str, Any]) -> str | None:
    """Checks the shape of a predict body; returns the pinned version, if any."""
    if ("features" in body) == ("venue" in body or "symbol" in body):
        raise invalid("body", 'give either "features" or "venue" and "symbol"')
    if "features" not in body:
        _name(body, "venue"), _name(body, "symbol")
    return _name(body, "model") if "model" in body else None


def _json_body(schema: dict[str, Any]) -> dict[str, Any]:
    """OpenAPI `requestBody` of a route that parses its JSON body by hand."""
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


_NAME = {"type": "string", "minLength": 1, "maxLength": MAX_NAME_CHARS}
PREDICT_BODY = _json_body(
    {
        "oneOf": [
            {"required": ["features"], "properties": {"features": {"type": "array"}}},
            {"required": ["venue", "symbol"], "properties": {"venue": _NAME, "symbol": _NAME}},
        ],
        "type": "object",
        "properties": {"model": _NAME},
    }
)
AB_BODY = _json_body(
    {
        "type": "object",
        "minProperties": 1,
        "additionalProperties": False,
        "properties": {
            "A": _NAME,
            "B": _NAME,
            "weight_b": {"type": "number", "minimum": 0, "maximum": 1},
        },
    }
)


# -- the app ----------------------------------------------------------------------------------


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


def card_summary(model: Model) -> dict[str, Any]:
    card = model.card
    return {
        "name": model.name,
        "version": model.version,
        "features": list(model.features),
        "classes": card.get("classes"),
        "metrics": card.get("metrics"),
        "trained_at": card.get("trained_at"),
        "data": card.get("data"),
    }


class PredictionApi:
    """Route handlers over one router and one feature source."""

    def __init__(self, router: ABRouter, features: FeatureSource) -> None:
        self.router, self.features = router, features

    async def _vector(self, venue: str, symbol: str):
        vector = await run_in_threadpool(self.features.vector, venue, symbol)
        if vector is None:
            raise ApiError(404, f"unknown instrument {venue}/{symbol}", "symbol")
        return vector

    async def predict(self, request: Request, key: str) -> Response:
        started = time.perf_counter_ns()
        body = _object(await read_json(request), PREDICT_FIELDS)
        route = self.router.route(key, _route_args(body))
        if "features" in body:
            x, t_ns = explicit_matrix(body["features"], route.model), None
        else:
            vector = await self._vector(body["venue"], body["symbol"])
            row = route.model.vectorize(vector.values)
            x, t_ns = np.asarray(row, dtype=np.float32).reshape(1, -1), vector.t_ns
        prediction = (await run_in_threadpool(route.model.predict_matrix, x))[0]
        self.router.record(route.variant, (time.perf_counter_ns() - started) / 1e6)
        return json_response(
            {
                "model": route.model.name,
                "version": route.model.version,
                "variant": route.variant,
                "label": int(prediction.label),
                "probability_up": float(prediction.probability_up),
                "t_ns": t_ns,
            }
        )

    async def features_of(self, venue: str, symbol: str) -> Response:
        if not 0 < len(venue) <= MAX_NAME_CHARS or not 0 < len(symbol) <= MAX_NAME_CHARS:
            field = "venue" if not 0 < len(venue) <= MAX_NAME_CHARS else "symbol"
            raise invalid(field, f"must be at most {MAX_NAME_CHARS} characters")
        vector = await self._vector(venue, symbol)
        values = {k: v if v is None or math.isfinite(v) else None for k, v in vector.values.items()}
        body = {"venue": venue, "symbol": symbol, "t_ns": vector.t_ns, "features": values}
        return json_response(body)

    async def instruments(self) -> Response:
        pairs = await run_in_threadpool(self.features.instruments)
        return json_response({"instruments": [list(p) for p in pairs]})

    def models(self) -> Response:
        catalogue = [card_summary(m) for m in self.router.catalogue()]
        return json_response({"models": catalogue, "ab": self.router.stats()})

    async def set_ab(self, request: Request) -> Response:
        body = _object(await read_json(request), AB_FIELDS)
        if not body:
            raise invalid("body", f"give at least one of {', '.join(AB_FIELDS)}")
        models = {v: self.router.find(_name(body, v), v) for v in ("A", "B") if v in body}
        weight = check_weight(body["weight_b"]) if "weight_b" in body else None
        self.router.configure(a=models.get("A"), b=models.get("B"), weight_b=weight)
        return json_response({"ab": self.router.stats()})


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
            await _error_response(busy)(scope, receive, send)
        else:
            self.inflight += 1
            try:
                await self.app(scope, receive, send)
            finally:
                self.inflight -= 1


def _install_error_handlers(app: FastAPI) -> None:
    async def api_error(_: Request, exc: Exception) -> Response:
        return _error_response(exc)  # type: ignore[arg-type]

    async def unknown_model(_: Request, exc: Exception) -> Response:
        return _error_response(invalid(exc.field, str(exc)))  # type: ignore[attr-defined]

    async def model_input(_: Request, exc: Exception) -> Response:
        return _error_response(ApiError(422, str(exc), "features"))

    async def unavailable(_: Request, exc: Exception) -> Response:
        return _error_response(ApiError(503, str(exc)))

    async def validation(_: Request, exc: Exception) -> Response:
        first = exc.errors()[0] if exc.errors() else {}  # type: ignore[attr-defined]
        field = str(first.get("loc", ("body",))[-1])
        return _error_response(invalid(field, first.get("msg", "invalid")))

    async def http_error(_: Request, exc: Exception) -> Response:
        status, detail = exc.status_code, exc.detail  # type: ignore[attr-defined]
        return _error_response(ApiError(status, str(detail), None, exc.headers))  # type: ignore[attr-defined]

    async def crash(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return _error_response(ApiError(500, "internal error; the server log has the details"))

    handlers = {
        ApiError: api_error,
        UnknownModel: unknown_model,
        ModelInputError: model_input,
        FeatureSourceUnavailable: unavailable,
        RequestValidationError: validation,
        HTTPException: http_error,
        Exception: crash,
    }
    for kind, handler in handlers.items():
        app.add_exception_handler(kind, handler)


def build_app(
    router: ABRouter, features: FeatureSource, keys: KeyRing, max_inflight: int = MAX_INFLIGHT
) -> FastAPI:
    """The prediction API over `router`'s models and `features`, guarded by `keys`."""
    api = PredictionApi(router, features)
    app = FastAPI(title="mdc prediction API", docs_url=None, redoc_url=None, openapi_url=None)
    app.add_middleware(InflightLimit, limit=max_inflight, exempt=frozenset({HEALTH_PATH}))
    _install_error_handlers(app)
    guarded = [Depends(key_dependency(keys))]
    key = Depends(key_dependency(keys))

    @app.get(HEALTH_PATH)
    async def healthz() -> Response:
        return json_response({"status": "ok"})

    @app.get("/openapi.json", dependencies=guarded, include_in_schema=False)
    async def openapi() -> Response:
        return json_response(app.openapi())

    @app.post("/v1/predict", openapi_extra=PREDICT_BODY)
    async def predict(request: Request, api_key: str = key) -> Response:
        return await api.predict(request, api_key)

    @app.get("/v1/features", dependencies=guarded)
    async def instruments() -> Response:
        return await api.instruments()

    @app.get("/v1/features/{venue}/{symbol}", dependencies=guarded)
    async def features_of(venue: str, symbol: str) -> Response:
        return await api.features_of(venue, symbol)

    @app.get("/v1/models", dependencies=guarded)
    async def models() -> Response:
        return api.models()

    @app.put("/v1/ab", dependencies=guarded, openapi_extra=AB_BODY)
    async def set_ab(request: Request) -> Response:
        return await api.set_ab(request)

    return app
