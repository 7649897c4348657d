"""Where the serving app gets live feature vectors: a copy kept in the replica, so a request
reads memory and never waits on Ray or the disk.

The copy (`LatestVectors`) is filled by a follower thread and read by the request handlers:
- `ActorFeatureSource` follows the collector's BookActors (one per venue, found by name): it
  long-polls each for the vectors that changed since the version it holds
  (`feature_updates(epoch, since, wait_s)`, which answers at once when something changed, else
  after `wait_s`), at most once per `min_interval_s` per venue, so a burst of events costs one
  call per interval, not one per event.
- `StoreFeatureSource` follows an event store directory that a collector may be writing: on
  start it replays the last `lookback_ns` of every stream (bounded per stream), then every
  `refresh_s` reopens the store read-only and feeds the records appended since (again bounded:
  a backlog beyond `max_records` per stream is skipped to its newest records).

Each lookup says how old the copy is: the time since the follower last heard from the venue's
source that nothing newer exists (an answer from the BookActor, a store refresh). The app turns
an age beyond its bound into 503 with Retry-After, so a prediction is never silently old.
"""

from __future__ import annotations

import heapq
import logging
import random
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Protocol

import ray

from mdc.backoff import Backoff
from mdc.errors import CollectorError
from mdc.events import Event
from mdc.features import FeatureConfig, FeatureTracker
from mdc.features.board import FeatureBoard, FeatureUpdate, LiveVector
from mdc.store.store import Store
from mdc.store.streams import Stream
from mdc.timefmt import NS

HOUR_NS = 3600 * NS
FIRST_LOAD_S = 5.0
"""How long a source's start waits for its first copy (a replica answers 503 until then)."""
RELOOKUP = Backoff(initial=0.2, maximum=2.0, floor=0.5)
UNEXPECTED_PAUSE_S = 1.0
log = logging.getLogger(__name__)


class FeatureSourceUnavailable(CollectorError):
    """The feature source cannot answer now (actor gone, store unreadable); answered with 503."""


@dataclass(frozen=True, slots=True)
class Lookup:
    """A vector from the copy, its age in seconds, and the follower's last problem, if any."""

    live: LiveVector
    age_s: float
    problem: str | None = None


class FeatureSource(Protocol):
    def lookup(self, venue: str, symbol: str) -> Lookup | None: ...

    def instruments(self) -> list[tuple[str, str]]: ...

    def close(self) -> None: ...


class NoFeatureSource:
    """No live features (no store or actor configured): every instrument is unknown."""

    def lookup(self, venue: str, symbol: str) -> Lookup | None:
        return None

    def instruments(self) -> list[tuple[str, str]]:
        return []

    def close(self) -> None:
        pass


class LatestVectors:
    """The replica's copy: written by one follower thread, read by any thread. A read is one
    dict lookup (atomic under the GIL); writers replace whole entries."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._vectors: dict[tuple[str, str], LiveVector] = {}
        self._heard: dict[str, float] = {}
        self._problems: dict[str, str] = {}

    def apply(self, venue: str | None, vectors: Iterable[LiveVector]) -> None:
        """Take these vectors; `venue` (None: every venue of the copy) is current as of now."""
        now = self.clock()
        for live in vectors:
            self._vectors[live.vector.venue, live.vector.symbol] = live
            self._heard.setdefault(live.vector.venue, now)
        for name in self._heard if venue is None else (venue,):
            self._heard[name] = now
            self._problems.pop(name, None)

    def fail(self, venue: str | None, problem: str) -> None:
        """The follower could not reach `venue`'s source (None: every venue): the copy ages."""
        for name in self._heard if venue is None else (venue,):
            self._problems[name] = problem

    def replace(self, venue: str, vectors: Iterable[LiveVector]) -> None:
        """A venue's whole copy anew (its source restarted, maybe with other instruments): one
        swap of the dict, so a reader sees the old copy or the new one, never neither."""
        kept = {k: v for k, v in self._vectors.items() if k[0] != venue}
        kept.update(((v.vector.venue, v.vector.symbol), v) for v in vectors)
        self._vectors = kept
        self.apply(venue, ())

    def lookup(self, venue: str, symbol: str) -> Lookup | None:
        live = self._vectors.get((venue, symbol))
        if live is None:
            return None
        age = self.clock() - self._heard.get(venue, 0.0)
        return Lookup(live, age, self._problems.get(venue))

    def instruments(self) -> list[tuple[str, str]]:
        return sorted(self._vectors)

    def venues(self) -> set[str]:
        return set(self._heard)


class _Follower:
    """A daemon thread running `step` until closed; `step` returns how long to pause."""

    def __init__(self, name: str, step: Callable[[], float]) -> None:
        self._stop = threading.Event()
        self._loaded = threading.Event()
        self._step = step
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self, first_load_s: float) -> None:
        self._thread.start()
        self._loaded.wait(first_load_s)

    def loaded(self) -> None:
        self._loaded.set()

    def _run(self) -> None:
        """The outermost boundary of the thread: an unexpected error is logged and the step
        tried again after a pause, so the copy ages (and says so) instead of the thread dying."""
        while not self._stop.is_set():
            try:
                pause = self._step()
            except Exception:
                log.exception("%s: follower step failed; retrying", self._thread.name)
                pause = UNEXPECTED_PAUSE_S
            self._stop.wait(pause)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


class StoreFeatureSource:
    """A FeatureTracker fed from an event store directory by a follower thread."""

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
        self.latest = LatestVectors(clock)
        self._positions: dict[Stream, int] = {}
        self._refresh_s, self._max_records = refresh_s, max_records
        with Store.open(data_dir, readonly=True) as store:
            cutoff = _cutoff(store, lookback_ns)
            tracker = FeatureTracker(config or FeatureConfig.default(), observed_from_ns=cutoff)
            self._board = FeatureBoard(tracker, epoch="store")
            self._feed(store, cutoff)
        self._follower = _Follower(f"features from {data_dir}", self._step)
        self._follower.start(first_load_s=0)

    def lookup(self, venue: str, symbol: str) -> Lookup | None:
        return self.latest.lookup(venue, symbol)

    def instruments(self) -> list[tuple[str, str]]:
        return self.latest.instruments()

    def close(self) -> None:
        self._follower.close()

    def _step(self) -> float:
        try:
            self.refresh()
        except FeatureSourceUnavailable as exc:
            self.latest.fail(None, str(exc))
        return self._refresh_s

    def refresh(self) -> int:
        """Feed what the store gained since the last refresh; returns how many events."""
        try:
            with Store.open(self.data_dir, readonly=True) as store:
                return self._feed(store, None)
        except (OSError, CollectorError) as exc:  # CollectorError: StoreNotFound and kin
            raise FeatureSourceUnavailable(f"cannot read the store: {exc}") from exc

    def _feed(self, store: Store, cutoff_ns: int | None) -> int:
        """Feed every stream's new records, merged by receive time, then publish the vectors
        they moved (only the follower thread, or the constructor before it, calls this)."""
        ends = store.wal.positions()
        sources = [self._records(store, s, end, cutoff_ns) for s, end in sorted(ends.items())]
        fed = 0
        tracker, board = self._board.tracker, self._board
        for event in heapq.merge(*sources, key=_ts_recv):
            tracker.on_event(event)
            board.touched((event,))
            fed += 1
        for stream, end in ends.items():  # never backwards: a stream read short stays put
            self._positions[stream] = max(end, self._positions.get(stream, 0))
        update = board.updates(board.epoch, board.version)
        self.latest.apply(None, update.vectors)
        return fed

    def _records(
        self, store: Store, stream: Stream, end: int, cutoff_ns: int | None
    ) -> Iterator[Event]:
        start = max(self._positions.get(stream, 0), end - self._max_records)
        for _, event in store.wal.read_events(stream, start, end):
            if cutoff_ns is None or event.ts_recv >= cutoff_ns:
                yield event


def _cutoff(store: Store, lookback_ns: int) -> int:
    """`lookback_ns` before the newest receive time in the store (recordings may be old), but
    not before the oldest: a window longer than the recording is not complete (as in
    `mdc features`)."""
    streams = store.wal.streams()
    newest = max((e.ts_recv for s in streams for e in store.tail(s, 1)), default=0)
    oldest = min((e.ts_recv for s in streams for _, e in store.wal.read_events(s, 0, 1)), default=0)
    return max(newest - lookback_ns, oldest)


def _ts_recv(event: Event) -> int:
    return event.ts_recv


@dataclass(eq=False)
class _Venue:
    """The follower's state for one venue's actor."""

    name: str
    handle: ray.actor.ActorHandle | None = None
    epoch: str = ""
    version: int = 0
    next_at: float = 0.0
    failures: int = 0


class ActorFeatureSource:
    """Vectors from the collector's named actors, copied by a follower thread (module doc).

    `actor_name` may hold `{venue}`: one actor per venue (the collector's BookActors); `venues`
    names them, else the follower lists the namespace's named actors every `discover_s`. The
    actors' method: `feature_updates(epoch: str, since: int, wait_s: float) -> FeatureUpdate`.
    """

    def __init__(
        self,
        actor_name: str,
        namespace: str | None = None,
        venues: Iterable[str] = (),
        *,
        min_interval_s: float = 0.01,
        wait_s: float = 1.0,
        discover_s: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.actor_name, self.namespace = actor_name, namespace
        self.min_interval_s, self.wait_s, self.discover_s = min_interval_s, wait_s, discover_s
        self.latest = LatestVectors(clock)
        self._clock = clock
        self._rng = random.Random()
        self._venues = {v: _Venue(v) for v in venues} or self._discover()
        self._discovered_at = clock()
        self._pending: dict[ray.ObjectRef, _Venue] = {}
        self._follower = _Follower(f"features from {actor_name}", self._step)
        self._follower.start(first_load_s=FIRST_LOAD_S)

    def lookup(self, venue: str, symbol: str) -> Lookup | None:
        found = self.latest.lookup(venue, symbol)
        if found is None and venue in self._venues and venue not in self.latest.venues():
            raise FeatureSourceUnavailable(f"the {venue} features are not loaded yet; retry")
        return found

    def instruments(self) -> list[tuple[str, str]]:
        return self.latest.instruments()

    def close(self) -> None:
        self._follower.close()

    # -- the follower thread ---------------------------------------------------------------

    def _step(self) -> float:
        """Ask every idle venue whose interval passed, then take the answers that came."""
        now = self._clock()
        if "{venue}" in self.actor_name and now - self._discovered_at > self.discover_s:
            for name, venue in self._discover().items():
                self._venues.setdefault(name, venue)
            self._discovered_at = now
        for venue in self._idle():
            if venue.next_at <= now:
                self._ask(venue)
        if self._pending:
            ready, _ = ray.wait(list(self._pending), num_returns=1, timeout=self._pause())
            for ref in ready:
                self._take(self._pending.pop(ref), ref)
        heard = self.latest.venues()
        if all(v.name in heard or v.failures for v in self._venues.values()):
            self._follower.loaded()
        return 0.0 if self._pending else self._pause()

    def _idle(self) -> list[_Venue]:
        """Venues with no poll outstanding."""
        busy = set(self._pending.values())
        return [v for v in self._venues.values() if v not in busy]

    def _pause(self) -> float:
        """Until the next idle venue is due (with every venue asked: up to `wait_s`)."""
        now = self._clock()
        due = min((v.next_at for v in self._idle()), default=now + self.wait_s)
        return max(0.0, due - now)

    def _ask(self, venue: _Venue) -> None:
        try:
            if venue.handle is None:
                venue.handle = ray.get_actor(self._actor(venue.name), namespace=self.namespace)
            ref = venue.handle.feature_updates.remote(venue.epoch, venue.version, self.wait_s)
        except ValueError as exc:  # no such actor (now): it may be restarting
            self._failed(venue, f"no actor {self._actor(venue.name)!r} ({exc})")
            return
        self._pending[ref] = venue

    def _take(self, venue: _Venue, ref: ray.ObjectRef) -> None:
        try:
            update: FeatureUpdate = ray.get(ref, timeout=self.wait_s + 5)
        except ray.exceptions.RayError as exc:  # gone, timed out, or its call failed
            venue.handle = None
            self._failed(venue, f"the {venue.name} feature actor is not answering ({exc})")
            return
        if update.epoch != venue.epoch and venue.name:
            self.latest.replace(venue.name, update.vectors)
        else:
            self.latest.apply(venue.name or None, update.vectors)
        venue.epoch, venue.version, venue.failures = update.epoch, update.version, 0
        venue.next_at = self._clock() + self.min_interval_s

    def _failed(self, venue: _Venue, problem: str) -> None:
        self.latest.fail(venue.name or None, problem)
        venue.next_at = self._clock() + RELOOKUP.delay(venue.failures, self._rng)
        venue.failures += 1

    def _actor(self, venue: str) -> str:
        return self.actor_name.format(venue=venue)

    def _discover(self) -> dict[str, _Venue]:
        """Venues with an actor now; with no `{venue}` in the name, the one actor serves all."""
        if "{venue}" not in self.actor_name:
            return {"": _Venue("")}
        prefix, _, suffix = self.actor_name.partition("{venue}")
        named = ray.util.list_named_actors(all_namespaces=True)
        return {
            name: _Venue(name)
            for a in named
            if a["namespace"] == self.namespace
            and a["name"].startswith(prefix)
            and a["name"].endswith(suffix)
            for name in [a["name"][len(prefix) : len(a["name"]) - len(suffix)]]
        }
