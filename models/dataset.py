"""Labelled rows from a stream of mdc events: features now, did the mid go up by the next sample.

The events go through the same `FeatureTracker` the live system uses, so a model sees at
training time exactly what it will see when served. Each instrument is sampled on a fixed grid
of event time (multiples of `sample_every_ns`); a row is the feature vector at grid time t and
its label is 1 when the mid at t + step is above the mid at t, else 0 (flat counts as 0). Rows
whose mid is null at either end, or that span a pause of the instrument's events longer than
MAX_IDLE_NS, are dropped. Every consumed event is hashed (sha256 over its
msgpack encoding, in order), so a model card names the exact data it was trained on.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from mdc.events import Event, to_msgpack
from mdc.features import FeatureConfig, FeatureTracker
from models.errors import TrainingError

LABEL_FEATURE = "mid"
PROGRESS_EVERY = 100_000
MAX_IDLE_NS = 60 * 10**9
"""An instrument silent for longer (a stopped collector, a closed market) is not sampled: its
stale book would otherwise label the whole pause as flat."""

Instrument = tuple[str, str]
Progress = Callable[[int, int], None]
"""Called with (events consumed, rows built) every PROGRESS_EVERY events and at the end."""


@dataclass(frozen=True)
class DataFingerprint:
    """What a model was trained on: event-time range, how many events, and their sha256."""

    from_ns: int | None
    to_ns: int | None
    events: int
    sha256: str

    def as_card(self) -> dict[str, int | str | None]:
        return {"from_ns": self.from_ns, "to_ns": self.to_ns} | {
            "events": self.events,
            "sha256": self.sha256,
        }


@dataclass(frozen=True)
class Dataset:
    """Rows in time order. `x` is float32 with nulls replaced by `null_fill` (per-feature median
    of the non-null values); `t_ns` is each row's sample time, for time-ordered splits."""

    x: np.ndarray
    y: np.ndarray
    t_ns: np.ndarray
    features: tuple[str, ...]
    null_fill: dict[str, float]
    data: DataFingerprint


class EventFingerprint:
    """Hashes, counts and time-bounds the events as they pass through."""

    def __init__(self) -> None:
        self._sha = hashlib.sha256()
        self.events = 0
        self.from_ns: int | None = None
        self.to_ns: int | None = None

    def add(self, event: Event) -> None:
        self._sha.update(to_msgpack(event))
        self.events += 1
        ts = event.ts_event
        self.from_ns = ts if self.from_ns is None else min(self.from_ns, ts)
        self.to_ns = ts if self.to_ns is None else max(self.to_ns, ts)

    def result(self) -> DataFingerprint:
        return DataFingerprint(self.from_ns, self.to_ns, self.events, self._sha.hexdigest())


class _Sampler:
    """Samples every known instrument at each grid time and pairs consecutive samples."""

    def __init__(self, tracker: FeatureTracker, features: Sequence[str], step_ns: int) -> None:
        self._tracker = tracker
        self._features = tuple(features)
        self._step = step_ns
        self._next_t: int | None = None
        self._previous: dict[Instrument, tuple[list[float], float]] = {}
        self._last_event_ns: dict[Instrument, int] = {}
        self.rows: list[list[float]] = []
        self.labels: list[int] = []
        self.times: list[int] = []

    def before(self, ts_ns: int) -> None:
        """Sample every grid time before `ts_ns`: all events at or before it have been fed."""
        if self._next_t is None:
            self._next_t = (ts_ns // self._step + 1) * self._step
        while self._next_t < ts_ns:
            self._sample(self._next_t)
            self._next_t += self._step

    def seen(self, event: Event) -> None:
        key = (event.venue, event.symbol)
        self._last_event_ns[key] = max(event.ts_event, self._last_event_ns.get(key, event.ts_event))

    def finish(self, last_ts_ns: int | None) -> None:
        if last_ts_ns is not None:
            self.before(last_ts_ns + 1)

    def _sample(self, t_ns: int) -> None:
        for key in sorted(self._tracker.instruments()):
            previous = self._previous.pop(key, None)
            if t_ns - self._last_event_ns.get(key, t_ns) > MAX_IDLE_NS:
                continue
            vector = self._tracker.vector(*key, t_ns)
            mid = None if vector is None else vector.values.get(LABEL_FEATURE)
            if vector is None or mid is None:
                continue
            if previous is not None:
                row, previous_mid = previous
                self.rows.append(row)
                self.labels.append(1 if mid > previous_mid else 0)
                self.times.append(t_ns - self._step)
            self._previous[key] = ([_as_float(vector.values[n]) for n in self._features], mid)


def _as_float(value: float | int | None) -> float:
    return math.nan if value is None else float(value)


def check_features(config: FeatureConfig, features: Sequence[str]) -> None:
    """The tracker must compute every model input and the mid the labels come from."""
    missing = [n for n in (*features, LABEL_FEATURE) if n not in config.names]
    if missing:
        raise TrainingError(
            f"the feature config does not enable {missing}; enable them in --features-config "
            "(labels need 'mid') or leave it out to use the default config"
        )
    if not features:
        raise TrainingError("no model features chosen; name at least one feature")


def build_dataset(
    events: Iterable[Event],
    config: FeatureConfig,
    features: Sequence[str],
    sample_every_ns: int,
    progress: Progress | None = None,
) -> Dataset:
    """Feed `events` (in order) to a fresh tracker and return the labelled, imputed rows."""
    check_features(config, features)
    if sample_every_ns <= 0:
        raise TrainingError(f"sample interval must be positive, got {sample_every_ns} ns")
    tracker = FeatureTracker(config)
    sampler = _Sampler(tracker, features, sample_every_ns)
    fingerprint = EventFingerprint()
    for event in events:
        sampler.before(event.ts_event)
        tracker.on_event(event)
        sampler.seen(event)
        fingerprint.add(event)
        if progress is not None and fingerprint.events % PROGRESS_EVERY == 0:
            progress(fingerprint.events, len(sampler.rows))
    sampler.finish(fingerprint.to_ns)
    if progress is not None:
        progress(fingerprint.events, len(sampler.rows))
    raw = np.array(sampler.rows, dtype=np.float64).reshape(len(sampler.rows), len(features))
    null_fill = null_fill_values(raw, features)
    return Dataset(
        x=impute(raw, null_fill, features),
        y=np.array(sampler.labels, dtype=np.int64),
        t_ns=np.array(sampler.times, dtype=np.int64),
        features=tuple(features),
        null_fill=null_fill,
        data=fingerprint.result(),
    )


def null_fill_values(raw: np.ndarray, features: Sequence[str]) -> dict[str, float]:
    """Per-feature median of the finite values; 0.0 for a feature that is never known."""
    fill: dict[str, float] = {}
    for column, name in enumerate(features):
        known = raw[:, column][np.isfinite(raw[:, column])]
        fill[name] = float(np.median(known)) if known.size else 0.0
    return fill


def impute(raw: np.ndarray, null_fill: dict[str, float], features: Sequence[str]) -> np.ndarray:
    """float32 copy of `raw` with every non-finite value replaced by its feature's fill."""
    fills = np.array([null_fill[n] for n in features], dtype=np.float64)
    filled = np.where(np.isfinite(raw), raw, fills)
    return filled.astype(np.float32)
