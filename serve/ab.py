"""A/B routing between two model versions inside one process, with per-variant metrics.

Routing is sticky: a client's API key hashes (SHA-256, so it is stable across processes and
replicas) to a bucket in [0, 1); the client gets B when its bucket is below `weight_b`. The same key
therefore always meets the same variant while the weight stays put, and raising the weight only
moves clients from A to B.

Hot swap: the live configuration is one immutable `Split`, replaced whole under a lock. A request
reads it once and keeps the model object it picked, so a swap never disturbs a request in flight:
it finishes on the model it started with (the old model stays alive while referenced).
"""

from __future__ import annotations

import hashlib
import math
import threading
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from mdc.errors import CollectorError

VARIANTS = ("A", "B")
PINNED = "pinned"
"""The variant reported for a request that pinned a version that is neither A nor B."""


class Prediction(Protocol):
    label: int
    probability_up: float


class Model(Protocol):
    """What serving needs of models.runtime.LoadedModel."""

    name: str
    version: str
    card: dict
    features: tuple[str, ...]
    inference_s: float
    """Typical seconds of one-row inference (measured at load)."""

    def vectorize(self, values: Mapping[str, float | int | None]) -> np.ndarray: ...

    def check_rows(self, rows: object) -> np.ndarray: ...

    def predict_checked(self, matrix: np.ndarray) -> Sequence[Prediction]: ...


class UnknownModel(CollectorError):
    """A model version (or variant) that is not loaded; answered with 422 naming the field."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def bucket(client_key: str) -> float:
    """Where a client falls in [0, 1): the first 8 bytes of SHA-256 of its key."""
    head = hashlib.sha256(client_key.encode("utf-8", "surrogatepass")).digest()[:8]
    return int.from_bytes(head, "big") / 2**64


def check_weight(weight_b: object) -> float:
    if (
        isinstance(weight_b, bool)
        or not isinstance(weight_b, int | float)
        or not 0.0 <= weight_b <= 1.0
    ):
        raise UnknownModel("weight_b", "weight_b must be a number from 0 to 1")
    return float(weight_b)


class LatencyWindow:
    """Request count and the latencies of the last `size` requests (a bounded ring)."""

    def __init__(self, size: int = 4096) -> None:
        self.count = 0
        self._ring: deque[float] = deque(maxlen=size)

    def add(self, latency_ms: float) -> None:
        self.count += 1
        self._ring.append(latency_ms)

    def percentiles(self, *qs: float) -> tuple[float | None, ...]:
        if not self._ring:
            return tuple(None for _ in qs)
        data = np.fromiter(self._ring, dtype=np.float64, count=len(self._ring))
        return tuple(round(float(v), 3) for v in np.percentile(data, qs))


@dataclass(frozen=True, slots=True)
class Split:
    """One consistent routing configuration: swapped as a whole, never edited."""

    a: Model
    b: Model
    weight_b: float

    def model(self, variant: str) -> Model:
        return self.a if variant == "A" else self.b


@dataclass(frozen=True, slots=True)
class Route:
    """What one request was routed to; it keeps its model even if the split changes."""

    variant: str
    model: Model


def model_key(model: Model) -> str:
    return f"{model.name}-{model.version}"


class ABRouter:
    """Two live variants over a catalogue of loaded models; thread-safe."""

    def __init__(
        self,
        a: Model,
        b: Model,
        weight_b: float = 0.0,
        *,
        catalogue: Iterable[Model] = (),
        window: int = 4096,
    ) -> None:
        self._lock = threading.Lock()
        self._catalogue: dict[str, Model] = {}
        for model in (*catalogue, a, b):
            self._add(model)
        self._split = Split(a, b, check_weight(weight_b))
        self._stats = {v: LatencyWindow(window) for v in VARIANTS}

    def _add(self, model: Model) -> None:
        self._catalogue[model.version] = model
        self._catalogue[model_key(model)] = model

    @property
    def split(self) -> Split:
        return self._split

    def route(self, client_key: str, pinned: str | None = None) -> Route:
        """The variant and model for a request: pinned version if given, else sticky A/B."""
        split = self._split
        if pinned is not None:
            model = self.find(pinned)
            same = [v for v in VARIANTS if split.model(v) is model]
            return Route(same[0] if same else PINNED, model)
        variant = "B" if bucket(client_key) < split.weight_b else "A"
        return Route(variant, split.model(variant))

    def find(self, version: str, field: str = "model") -> Model:
        """A loaded model by version ("v2") or name-version ("direction-v2")."""
        model = self._catalogue.get(version)
        if model is None:
            known = ", ".join(sorted(self._catalogue))
            raise UnknownModel(field, f"unknown model version {version!r}; loaded: {known}")
        return model

    def record(self, variant: str, latency_ms: float) -> None:
        if variant in self._stats and math.isfinite(latency_ms):
            with self._lock:
                self._stats[variant].add(latency_ms)

    def swap(self, variant: str, model: Model) -> None:
        """Serve `model` as `variant` from the next request on; requests in flight keep theirs."""
        if variant not in VARIANTS:
            raise UnknownModel("variant", f"variant must be one of {VARIANTS}, not {variant!r}")
        self.configure(**{variant.lower(): model})

    def set_weight(self, weight_b: float) -> None:
        self.configure(weight_b=weight_b)

    def configure(
        self, a: Model | None = None, b: Model | None = None, weight_b: float | None = None
    ) -> None:
        """Change any of A, B and the weight of B in one atomic step."""
        weight = self._split.weight_b if weight_b is None else check_weight(weight_b)
        with self._lock:
            for model in (a, b):
                if model is not None:
                    self._add(model)
            split = self._split
            self._split = Split(a or split.a, b or split.b, weight)

    def catalogue(self) -> list[Model]:
        with self._lock:
            unique = {id(m): m for m in self._catalogue.values()}
        return sorted(unique.values(), key=lambda m: (m.name, m.version))

    def stats(self) -> dict[str, dict[str, Any]]:
        """Per variant: version, weight, request count, p50/p99 latency in ms."""
        split = self._split
        weights = {"A": 1.0 - split.weight_b, "B": split.weight_b}
        out = {}
        with self._lock:
            for variant in VARIANTS:
                window = self._stats[variant]
                p50, p99 = window.percentiles(50, 99)
                out[variant] = {
                    "model": split.model(variant).name,
                    "version": split.model(variant).version,
                    "weight": round(weights[variant], 6),
                    "requests": window.count,
                    "p50_ms": p50,
                    "p99_ms": p99,
                }
        return out
