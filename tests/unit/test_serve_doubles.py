"""Test doubles for the serve unit tests: a linear "model" and an in-memory feature source.

The integration tests use the real models (models/shipped) and a real FeatureTracker instead.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from mdc.features.board import LiveVector
from models.errors import ModelInputError
from serve.features_source import Lookup


@dataclass(frozen=True)
class Pred:
    label: int
    probability_up: float


class LinearModel:
    """Stands in for models.runtime.LoadedModel: logistic of a weighted sum."""

    def __init__(self, version: str, weights: tuple[float, ...] = (1.0, -1.0, 0.5)) -> None:
        self.name, self.version = "direction", version
        self.features = tuple(f"f{i}" for i in range(len(weights)))
        self.card = {"name": self.name, "version": version, "features": list(self.features)}
        self._w = np.asarray(weights, dtype=np.float32)
        self.inference_s = 0.0

    def vectorize(self, values: Mapping[str, float | int | None]) -> np.ndarray:
        missing = [f for f in self.features if f not in values]
        if missing:
            raise ModelInputError(f"missing feature {missing[0]!r}")
        return np.asarray([values[f] or 0.0 for f in self.features], dtype=np.float32)

    def check_rows(self, rows: object) -> np.ndarray:
        with np.errstate(over="ignore"):
            matrix = np.atleast_2d(np.asarray(rows, dtype=np.float32))
        if not np.isfinite(matrix).all():
            raise ModelInputError("non-finite")
        return matrix

    def predict_checked(self, x: np.ndarray) -> list[Pred]:
        out = []
        for z in x @ self._w:
            p = 1.0 / (1.0 + math.exp(-float(z)))
            out.append(Pred(int(p > 0.5), p))
        return out


@dataclass(frozen=True)
class Vector:
    venue: str
    symbol: str
    t_ns: int
    values: dict


class DictFeatureSource:
    """Fixed vectors by (venue, symbol), each `age_s` old, received at its `t_ns`."""

    def __init__(self, vectors: dict[tuple[str, str], Vector], age_s: float = 0.0) -> None:
        self.vectors, self.age_s = vectors, age_s

    def lookup(self, venue: str, symbol: str) -> Lookup | None:
        vector = self.vectors.get((venue, symbol))
        if vector is None:
            return None
        return Lookup(LiveVector(vector, vector.t_ns), self.age_s)  # type: ignore[arg-type]

    def instruments(self) -> list[tuple[str, str]]:
        return sorted(self.vectors)

    def close(self) -> None:
        pass


def store_app(store_dir: str, key: str):
    """The API over a store directory (GraphQL, alerting admin), with stand-in models."""
    from serve.ab import ABRouter
    from serve.app import build_app
    from serve.auth import KeyRing

    router = ABRouter(LinearModel("v1"), LinearModel("v2"), 0.0)
    return build_app(router, DictFeatureSource({}), KeyRing([key]), store_dir=store_dir)
