"""The prediction API (FastAPI): ONNX predictions, live features, model catalogue, A/B control.

One app object serves under plain uvicorn and as the Ray Serve ingress, on the contract of
serve.jsonapi (API key on every route but health, JSON errors naming the field, in-flight limit).
Given a `DlqAdmin`, it also carries the DLQ admin routes (serve.admin) behind the same keys.
A model whose one-row inference (measured at load) takes under INLINE_INFERENCE_S runs on the
event loop; slower ones run on worker threads, so a slow model never holds the loop that health
needs. Input is checked once, as the float32 matrix the model takes.

Live features come from the replica's own copy (serve.features_source): a request reads memory.
Every answer built on them carries `ts_recv` (the receive time of the newest event behind the
vector, ns) and `age_ms` (how long since the copy was last confirmed current); a copy older than
`max_feature_age_s` is answered 503 with Retry-After, never silently old.
"""

from __future__ import annotations

import math
import time
from typing import TYPE_CHECKING, Any

from fastapi import Depends, FastAPI, Request, Response
from starlette.concurrency import run_in_threadpool

from models.errors import ModelInputError
from serve.ab import ABRouter, Model, Prediction, UnknownModel, check_weight
from serve.admin import DlqAdmin, dlq_router
from serve.alerts_admin import alerts_router
from serve.auth import KeyRing
from serve.cost_api import cost_router
from serve.dashboard import ui_router
from serve.features_source import FeatureSource, FeatureSourceUnavailable, Lookup
from serve.jsonapi import (
    MAX_INFLIGHT,
    RETRY,
    ApiError,
    ErrorHandler,
    error_response,
    invalid,
    json_body_doc,
    json_response,
    key_dependency,
    new_app,
    read_json,
)
from serve.plugins_api import plugins_router
from serve.store_graphql import graphql_router
from serve.streaming.websocket import stream_router

if TYPE_CHECKING:
    from collections.abc import Sequence

    import numpy as np

MAX_BODY_BYTES = 64 * 1024
MAX_NAME_CHARS = 64
MAX_FEATURE_AGE_S = 5.0
INLINE_INFERENCE_S = 0.0005
PREDICT_FIELDS = ("features", "venue", "symbol", "model")
AB_FIELDS = ("A", "B", "weight_b")


# -- request parsing --------------------------------------------------------------------------


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
    """The request's `features` as the model's checked [1, n] float32 matrix."""
    n = len(model.features)
    if not isinstance(values, list) or not all(map(_number, values)):
        raise invalid("features", f"must be a list of {n} numbers")
    if len(values) != n:
        raise invalid("features", f"has {len(values)} values; model {model.version} takes {n}")
    try:
        return model.check_rows(values)
    except ModelInputError as exc:
        raise invalid("features", "values must be finite and within float32 range") from exc


def _route_args(body: dict[str, Any]) -> str | None:
    """Checks the shape of a predict body; returns the pinned version, if any."""
    if ("features" in body) == ("venue" in body or "symbol" in body):
        raise invalid("body", 'give either "features" or "venue" and "symbol"')
    if "features" not in body:
        _name(body, "venue"), _name(body, "symbol")
    return _name(body, "model") if "model" in body else None


_NAME = {"type": "string", "minLength": 1, "maxLength": MAX_NAME_CHARS}
PREDICT_BODY = json_body_doc(
    {
        "oneOf": [
            {"required": ["features"], "properties": {"features": {"type": "array"}}},
            {"required": ["venue", "symbol"], "properties": {"venue": _NAME, "symbol": _NAME}},
        ],
        "type": "object",
        "properties": {"model": _NAME},
    }
)
AB_BODY = json_body_doc(
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

    def __init__(self, router: ABRouter, features: FeatureSource, max_feature_age_s: float) -> None:
        self.router, self.features, self.max_age_s = router, features, max_feature_age_s

    def _lookup(self, venue: str, symbol: str) -> Lookup:
        """The instrument's vector from the copy: 404 if not ours, 503 if too old."""
        found = self.features.lookup(venue, symbol)
        if found is None:
            raise ApiError(404, f"unknown instrument {venue}/{symbol}", "symbol")
        if found.age_s > self.max_age_s:
            why = f": {found.problem}" if found.problem else ""
            raise ApiError(
                503,
                f"features of {venue}/{symbol} are {found.age_s:.1f} s old, beyond "
                f"{self.max_age_s:g} s{why}",
                headers=RETRY,
            )
        return found

    async def predict(self, request: Request, key: str) -> Response:
        started = time.perf_counter_ns()
        body = _object(await read_json(request, MAX_BODY_BYTES), PREDICT_FIELDS)
        route = self.router.route(key, _route_args(body))
        found = None
        if "features" in body:
            x = explicit_matrix(body["features"], route.model)
        else:
            found = self._lookup(body["venue"], body["symbol"])
            x = route.model.vectorize(found.live.vector.values).reshape(1, -1)
        prediction = (await _infer(route.model, x))[0]
        self.router.record(route.variant, (time.perf_counter_ns() - started) / 1e6)
        return json_response(
            {
                "model": route.model.name,
                "version": route.model.version,
                "variant": route.variant,
                "label": int(prediction.label),
                "probability_up": float(prediction.probability_up),
                **_provenance(found),
            }
        )

    async def features_of(self, venue: str, symbol: str) -> Response:
        if not 0 < len(venue) <= MAX_NAME_CHARS or not 0 < len(symbol) <= MAX_NAME_CHARS:
            field = "venue" if not 0 < len(venue) <= MAX_NAME_CHARS else "symbol"
            raise invalid(field, f"must be at most {MAX_NAME_CHARS} characters")
        found = self._lookup(venue, symbol)
        values = found.live.vector.values
        values = {k: v if v is None or math.isfinite(v) else None for k, v in values.items()}
        body = {"venue": venue, "symbol": symbol, **_provenance(found), "features": values}
        return json_response(body)

    async def instruments(self) -> Response:
        return json_response({"instruments": [list(p) for p in self.features.instruments()]})

    def models(self) -> Response:
        catalogue = [card_summary(m) for m in self.router.catalogue()]
        return json_response({"models": catalogue, "ab": self.router.stats()})

    async def set_ab(self, request: Request) -> Response:
        body = _object(await read_json(request, MAX_BODY_BYTES), AB_FIELDS)
        if not body:
            raise invalid("body", f"give at least one of {', '.join(AB_FIELDS)}")
        models = {v: self.router.find(_name(body, v), v) for v in ("A", "B") if v in body}
        weight = check_weight(body["weight_b"]) if "weight_b" in body else None
        self.router.configure(a=models.get("A"), b=models.get("B"), weight_b=weight)
        return json_response({"ab": self.router.stats()})


async def _infer(model: Model, x: np.ndarray) -> Sequence[Prediction]:
    """On the event loop for a model faster than a thread hand-off (measured in
    benchmarks/serve.py: the shipped models take about 15 µs, and the hand-off tripled the tail
    latency); on a worker thread otherwise, so a slow model never holds health up."""
    if model.inference_s < INLINE_INFERENCE_S:
        return model.predict_checked(x)
    return await run_in_threadpool(model.predict_checked, x)


def _provenance(found: Lookup | None) -> dict[str, Any]:
    """`t_ns` (event time of the vector), `ts_recv` and `age_ms`; nulls for explicit features."""
    if found is None:
        return {"t_ns": None, "ts_recv": None, "age_ms": None}
    return {
        "t_ns": found.live.vector.t_ns,
        "ts_recv": found.live.ts_recv,
        "age_ms": round(found.age_s * 1000, 3),
    }


def _prediction_handlers() -> dict[type[Exception], ErrorHandler]:
    async def unknown_model(_: Request, exc: Exception) -> Response:
        return error_response(invalid(exc.field, str(exc)))  # type: ignore[attr-defined]

    async def model_input(_: Request, exc: Exception) -> Response:
        return error_response(ApiError(422, str(exc), "features"))

    async def unavailable(_: Request, exc: Exception) -> Response:
        return error_response(ApiError(503, str(exc), headers=RETRY))

    return {
        UnknownModel: unknown_model,
        ModelInputError: model_input,
        FeatureSourceUnavailable: unavailable,
    }


def build_app(
    router: ABRouter,
    features: FeatureSource,
    keys: KeyRing,
    *,
    max_inflight: int = MAX_INFLIGHT,
    dlq: DlqAdmin | None = None,
    max_feature_age_s: float = MAX_FEATURE_AGE_S,
    stream_target: str | None = None,
    store_dir: str | None = None,
) -> FastAPI:
    """The prediction API over `router`'s models and `features`, guarded by `keys`; with `dlq`,
    the DLQ admin routes too (same keys, same errors); `/v1/stream` relays the gRPC market
    data of `stream_target` (HOST:PORT) to WebSockets; `/graphql` queries the store in
    `store_dir`."""
    api = PredictionApi(router, features, max_feature_age_s)
    app = new_app("mdc prediction API", keys, max_inflight, _prediction_handlers())
    guarded = [Depends(key_dependency(keys))]
    key = Depends(key_dependency(keys))
    if dlq is not None:
        app.include_router(dlq_router(dlq, keys))
    app.include_router(stream_router(stream_target, keys))
    graphql = graphql_router(store_dir)
    if graphql is not None:
        app.include_router(graphql, prefix="/graphql", dependencies=guarded)
    if store_dir is not None:
        app.include_router(alerts_router(store_dir, keys))
    app.include_router(ui_router(store_dir, keys))
    app.include_router(cost_router(store_dir, keys))
    if store_dir is not None:
        app.include_router(plugins_router(store_dir, keys))

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
