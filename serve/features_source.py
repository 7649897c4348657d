"""Where the serving app gets live feature vectors: the event store, or the collector's actor.

`StoreFeatureSource` keeps its own FeatureTracker fed from a store directory that a collector
may be writing: on start it replays the last `lookback_ns` of every stream (bounded per stream),
then, at most every `refresh_s`, reopens the store read-only and feeds the records appended since
(again bounded: a backlog beyond `max_records` per stream is skipped to its newest records).

`ActorFeatureSource` asks a named Ray actor that already tracks features live. The actor must
have two methods:
    feature_vector(venue: str, symbol: str) -> FeatureVector | None
    feature_instruments() -> list[tuple[str, str]]
"""

from __future__ import annotations

import contextlib
import heapq
import threading
import time
from collections.abc import Callable, Iterator
from typing import Protocol

import ray

from mdc.errors import CollectorError
from mdc.events import Event
from mdc.features import FeatureConfig, FeatureTracker, FeatureVector
from mdc.store.store import Store
from mdc.store.streams import Stream
from mdc.timefmt import NS

HOUR_NS = 3600 * NS
RELOOKUP_DELAY_S = 0.5
ACTOR_GONE = (ray.exceptions.RayActorError, ray.exceptions.GetTimeoutError)


class FeatureSourceUnavailable(CollectorError):
    """The feature source cannot answer now (actor gone, store unreadable); answered with 503."""


class FeatureSource(Protocol):
    def vector(self, venue: str, symbol: str) -> FeatureVector | None: ...

    def instruments(self) -> list[tuple[str, str]]: ...


class NoFeatureSource:
    """No live features (no store or actor configured): every instrument is unknown."""

    def vector(self, venue: str, symbol: str) -> FeatureVector | None:
        return None

    def instruments(self) -> list[tuple[str, str]]:
        return []


class StoreFeatureSource:
    """A FeatureTracker kept up to date from an event store directory; thread-safe."""

    def __init__(
        self,
        data_dir: str,
        config: FeatureConfig | None = None,
        *,
        lookback_ns: int = HOUR_NS,
        refresh_s: float = 0.5,
        max_records: int = 200_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.data_dir = data_dir
        self._positions: dict[Stream, int] = {}
        self._lock = threading.Lock()
        self._refresh_s, self._max_records, self._clock = refresh_s, max_records, clock
        self._refreshed = clock()
        with Store.open(data_dir, readonly=True) as store:
            cutoff = _cutoff(store, lookback_ns)
            config = config or FeatureConfig.default()
            self._tracker = FeatureTracker(config, observed_from_ns=cutoff)
            self._feed(store, cutoff)

    def vector(self, venue: str, symbol: str) -> FeatureVector | None:
        self.refresh()
        with self._lock:
            return self._tracker.vector(venue, symbol)

    def instruments(self) -> list[tuple[str, str]]:
        self.refresh()
        with self._lock:
            return self._tracker.instruments()

    def refresh(self, force: bool = False) -> int:
        """Feed what the store gained since the last refresh (if `refresh_s` passed or `force`);
        returns how many events were fed."""
        if not force and self._clock() - self._refreshed < self._refresh_s:
            return 0
        with self._lock:
            if not force and self._clock() - self._refreshed < self._refresh_s:
                return 0
            self._refreshed = self._clock()
            try:
                with Store.open(self.data_dir, readonly=True) as store:
                    return self._feed(store, None)
            except OSError as exc:
                raise FeatureSourceUnavailable(f"cannot read the store: {exc}") from exc

    def _feed(self, store: Store, cutoff_ns: int | None) -> int:
        """Feed every stream's new records, merged by receive time (caller holds the lock)."""
        ends = store.wal.positions()
        sources = [self._records(store, s, end, cutoff_ns) for s, end in sorted(ends.items())]
        fed = 0
        for event in heapq.merge(*sources, key=_ts_recv):
            self._tracker.on_event(event)
            fed += 1
        self._positions.update(ends)
        return fed

    def _records(
        self, store: Store, stream: Stream, end: int, cutoff_ns: int | None
    ) -> Iterator[Event]:
        start = max(self._positions.get(stream, 0), end - self._max_records)
        for _, event in store.wal.read_events(stream, start, end):
            if cutoff_ns is None or event.ts_recv >= cutoff_ns:
                yield event


def _cutoff(store: Store, lookback_ns: int) -> int:
    """`lookback_ns` before the newest receive time in the store (recordings may be old)."""
    newest = [e.ts_recv for s in store.wal.streams() for e in store.tail(s, 1)]
    return max(newest, default=0) - lookback_ns


def _ts_recv(event: Event) -> int:
    return event.ts_recv


class ActorFeatureSource:
    """Feature vectors from the collector's named actors (see the module doc for their methods).

    `actor_name` may hold `{venue}`: one actor per venue (the collector's BookActors), found by
    name (`instruments` lists the namespace's named actors); a venue without an actor is not an
    instrument of ours."""

    def __init__(self, actor_name: str, namespace: str | None = None, timeout_s: float = 2.0):
        self.actor_name, self.namespace, self.timeout_s = actor_name, namespace, timeout_s
        self._actors: dict[str, ray.actor.ActorHandle] = {}
        self._seen: set[str] = set()

    def _name(self, venue: str) -> str:
        return self.actor_name.format(venue=venue)

    def _handle(self, venue: str) -> ray.actor.ActorHandle:
        name = self._name(venue)
        if name not in self._actors:
            try:
                self._actors[name] = ray.get_actor(name, namespace=self.namespace)
            except ValueError as exc:
                raise FeatureSourceUnavailable(
                    f"no actor named {name!r} in namespace {self.namespace!r}"
                ) from exc
        return self._actors[name]

    def _call(self, venue: str, method: str, *args: str) -> object:
        """One retry on a fresh lookup: a restarted actor takes over the name within a second,
        and a request that arrives in between should not fail for it."""
        with contextlib.suppress(*ACTOR_GONE):
            return self._call_once(venue, method, *args)
        time.sleep(RELOOKUP_DELAY_S)
        try:
            return self._call_once(venue, method, *args)
        except ACTOR_GONE as exc:
            raise FeatureSourceUnavailable(f"{self._name(venue)}.{method}: {exc}") from exc

    def _call_once(self, venue: str, method: str, *args: str) -> object:
        try:
            ref = getattr(self._handle(venue), method).remote(*args)
            return ray.get(ref, timeout=self.timeout_s)
        except ACTOR_GONE:
            self._actors.pop(self._name(venue), None)
            raise

    def _venues(self) -> list[str]:
        """Venues with an actor now; with no `{venue}` in the name, the one actor serves all."""
        if "{venue}" not in self.actor_name:
            return [""]
        prefix, _, suffix = self.actor_name.partition("{venue}")
        named = ray.util.list_named_actors(all_namespaces=True)
        return sorted(
            a["name"][len(prefix) : len(a["name"]) - len(suffix)]
            for a in named
            if a["namespace"] == self.namespace
            and a["name"].startswith(prefix)
            and a["name"].endswith(suffix)
        )

    def vector(self, venue: str, symbol: str) -> FeatureVector | None:
        if "{venue}" in self.actor_name and not self._has_actor(venue):
            return None
        return self._call(venue, "feature_vector", venue, symbol)  # type: ignore[return-value]

    def _has_actor(self, venue: str) -> bool:
        """A venue whose actor we have seen and that is missing now is restarting: look again
        after a moment, then answer 503 rather than "not ours"."""
        if self._found(venue):
            return True
        if venue not in self._seen:
            return False
        time.sleep(RELOOKUP_DELAY_S)
        if self._found(venue):
            return True
        raise FeatureSourceUnavailable(f"the {venue} feature actor is restarting; retry")

    def _found(self, venue: str) -> bool:
        """A cached handle, else one name lookup: no listing of every actor per request."""
        try:
            self._handle(venue)
        except FeatureSourceUnavailable:
            return False
        self._seen.add(venue)
        return True

    def instruments(self) -> list[tuple[str, str]]:
        return [
            tuple(i)  # type: ignore[misc]
            for venue in self._venues()
            for i in self._call(venue, "feature_instruments")  # type: ignore[union-attr]
        ]
