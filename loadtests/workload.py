"""What a load run sends and what counts as a good answer: plain Python (no Locust), testable.

The Locust files (predict.py, features.py) and the runner both read the workload from here, so the
instruments, the feature-vector length and the response shapes are defined in one place only.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from mdc.errors import CollectorError, ConfigError

ENV_API_KEY = "MDC_LOAD_API_KEY"
ENV_INSTRUMENTS = "MDC_LOAD_INSTRUMENTS"
ENV_FEATURE_COUNT = "MDC_LOAD_FEATURE_COUNT"
ENV_SEED = "MDC_LOAD_SEED"
ENV_THINK_S = "MDC_LOAD_THINK_S"
ENV_GRPC_TARGET = "MDC_LOAD_GRPC_TARGET"
PREDICT_PATH = "/v1/predict"
MODELS_PATH = "/v1/models"
FEATURES_NAME = "/v1/features/{venue}/{symbol}"
"""The API's paths the Locust files call (here, not in them: importing Locust patches the
process with gevent, which the contract tests must not suffer)."""
DEFAULT_GRPC_TARGET = "127.0.0.1:50051"
ENV_SERVER_KEYS = "MDC_API_KEYS"

FINAL_STATS_SUFFIX = "_final_stats.csv"
FINAL_FAILURES_SUFFIX = "_final_failures.csv"
"""Written by the Locust files when the test stops; Locust's own `_stats.csv` may lag a second."""

DEFAULT_THINK_S = 0.01
"""Pause between one simulated user's requests: bounds the traffic each user makes."""
DEFAULT_INSTRUMENTS: tuple[tuple[str, str], ...] = (("binance", "BTC-USDT"),)
"""The simulator's instrument the serve app knows on first run (contract: binance BTC-USDT)."""

PREDICTION_FIELDS: dict[str, tuple[type, ...]] = {
    "model": (str,),
    "version": (str,),
    "variant": (str,),
    "label": (int,),
    "probability_up": (int, float),
    "t_ns": (int, type(None)),
}
FEATURES_FIELDS: dict[str, tuple[type, ...]] = {
    "venue": (str,),
    "symbol": (str,),
    "t_ns": (int, type(None)),
    "features": (dict,),
}


class LoadConfigError(ConfigError):
    """A load-test option (instrument, count, key) is malformed or missing."""


class LoadRunError(CollectorError):
    """The load generator could not run, or ran without producing results."""


class HostUnreachable(LoadRunError):
    """The target server does not answer its health check."""


@dataclass(frozen=True)
class Workload:
    """What the simulated users request; `feature_count=None` means ask GET /v1/models at start."""

    instruments: tuple[tuple[str, str], ...] = DEFAULT_INSTRUMENTS
    feature_count: int | None = None
    seed: int = 0
    think_s: float = DEFAULT_THINK_S
    grpc_target: str = DEFAULT_GRPC_TARGET  # the stream scenario's gRPC server

    def __post_init__(self) -> None:
        if not self.instruments:
            raise LoadConfigError("workload needs at least one instrument")
        if self.feature_count is not None and self.feature_count <= 0:
            raise LoadConfigError(f"feature count must be positive, got {self.feature_count}")
        if self.think_s < 0:
            raise LoadConfigError(f"think time must be >= 0 s, got {self.think_s}")

    def to_env(self, api_key: str) -> dict[str, str]:
        """The environment the Locust process reads its options from (the key never hits argv)."""
        return {
            ENV_API_KEY: api_key,
            ENV_INSTRUMENTS: format_instruments(self.instruments),
            ENV_FEATURE_COUNT: str(self.feature_count or 0),
            ENV_SEED: str(self.seed),
            ENV_THINK_S: repr(self.think_s),
            ENV_GRPC_TARGET: self.grpc_target,
        }


def parse_instrument(text: str) -> tuple[str, str]:
    """`venue:SYMBOL` -> (venue, SYMBOL); the symbol keeps its normalised case."""
    venue, sep, symbol = text.strip().partition(":")
    if not sep or not venue or not symbol or "/" in venue or "/" in symbol:
        raise LoadConfigError(f"instrument {text!r} must look like venue:SYMBOL (binance:BTC-USDT)")
    return venue.lower(), symbol


def parse_instruments(text: str) -> tuple[tuple[str, str], ...]:
    """Comma-separated `venue:SYMBOL` list; empty text gives the defaults."""
    parts = [p for p in text.split(",") if p.strip()]
    return tuple(parse_instrument(p) for p in parts) if parts else DEFAULT_INSTRUMENTS


def format_instruments(instruments: Sequence[tuple[str, str]]) -> str:
    return ",".join(f"{venue}:{symbol}" for venue, symbol in instruments)


def default_api_key(environ: Mapping[str, str] = os.environ) -> str | None:
    """The server's first key (MDC_API_KEYS), else the load-test key (MDC_LOAD_API_KEY)."""
    server_keys = [k.strip() for k in environ.get(ENV_SERVER_KEYS, "").split(",") if k.strip()]
    if server_keys:
        return server_keys[0]
    return environ.get(ENV_API_KEY) or None


def missing_fields(body: Any, schema: Mapping[str, tuple[type, ...]]) -> str | None:
    """Why `body` does not match `schema` (field -> allowed types), or None when it does."""
    if not isinstance(body, dict):
        return f"body is {type(body).__name__}, not a JSON object"
    for name, types in schema.items():
        if name not in body:
            return f"missing field {name!r}"
        value = body[name]
        if isinstance(value, bool) or not isinstance(value, types):
            return f"field {name!r} has type {type(value).__name__}"
    return None


def prediction_problem(body: Any) -> str | None:
    """Why a 2xx /v1/predict body is unusable, or None."""
    problem = missing_fields(body, PREDICTION_FIELDS)
    if problem is None and not 0.0 <= body["probability_up"] <= 1.0:
        problem = f"probability_up {body['probability_up']} outside [0, 1]"
    return problem


def features_problem(body: Any, venue: str, symbol: str) -> str | None:
    """Why a 2xx /v1/features body is unusable, or None."""
    problem = missing_fields(body, FEATURES_FIELDS)
    if problem is None and (body["venue"], body["symbol"]) != (venue, symbol):
        problem = f"asked for {venue}:{symbol}, got {body['venue']}:{body['symbol']}"
    return problem


def feature_counts(models_body: Any) -> dict[str, int]:
    """Version -> input length for each model GET /v1/models lists (by `features` list or count)."""
    models = models_body.get("models") if isinstance(models_body, dict) else None
    if not isinstance(models, list):
        raise LoadRunError("GET /v1/models: body has no 'models' list")
    counts: dict[str, int] = {}
    for card in models:
        if not isinstance(card, dict) or not isinstance(card.get("version"), str):
            continue
        count = _card_feature_count(card)
        if count:
            counts[card["version"]] = count
    if not counts:
        raise LoadRunError("GET /v1/models: no model lists its features; pass --feature-count")
    return counts


def _card_feature_count(card: Mapping[str, Any]) -> int | None:
    features = card.get("features", card.get("n_features"))
    if isinstance(features, list):
        return len(features)
    if isinstance(features, int) and not isinstance(features, bool):
        return features
    return None
