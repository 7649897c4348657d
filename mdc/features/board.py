"""The latest feature vector of each instrument, versioned, for followers that copy it.

A live feature source (the collector's BookActor) feeds events to its FeatureTracker and notes
here which instruments they touched. A follower (a prediction replica) asks for what changed
since the version it holds; the board computes the touched instruments' vectors then, once for
every follower, so a burst of events costs one vector per instrument, not one per event. An
`epoch` names the board's incarnation: a follower that presents another epoch (the source
restarted) gets everything again.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from mdc.events import Event
from mdc.features.tracker import FeatureTracker, FeatureVector


@dataclass(frozen=True, slots=True)
class LiveVector:
    """A vector and the receive time of the newest event behind it (0: no event yet)."""

    vector: FeatureVector
    ts_recv: int


@dataclass(frozen=True, slots=True)
class FeatureUpdate:
    """What changed after a follower's version; `version` is the one to present next time."""

    epoch: str
    version: int
    vectors: tuple[LiveVector, ...]


class FeatureBoard:
    """Versioned latest vectors over one FeatureTracker (see the module docstring)."""

    def __init__(self, tracker: FeatureTracker, epoch: str) -> None:
        self.tracker = tracker
        self.epoch = epoch
        self.version = 0
        self._latest: dict[tuple[str, str], tuple[int, LiveVector]] = {}
        self._touched: dict[tuple[str, str], int] = {}

    def declare(self, instruments: Iterable[tuple[str, str]], now_ns: int) -> None:
        """Instruments of ours that may have no event yet: followers see them with every feature
        unknown (not the same as an instrument that is not ours)."""
        unknown = dict.fromkeys(self.tracker.config.names)
        for venue, symbol in instruments:
            if (venue, symbol) not in self._latest:
                self.version += 1
                vector = FeatureVector(venue, symbol, now_ns, dict(unknown))
                self._latest[venue, symbol] = (self.version, LiveVector(vector, 0))

    def touched(self, events: Sequence[Event]) -> None:
        """Note the instruments these events (fed to the tracker) moved; events come in receive
        order, so the last one's receive time is the newest. A venue-wide event (a Gap with no
        symbol) moves every instrument of its venue."""
        touched = self._touched
        for event in events:
            if event.symbol:
                touched[event.venue, event.symbol] = event.ts_recv
            else:
                for venue, symbol in self.tracker.instruments():
                    if venue == event.venue:
                        touched[venue, symbol] = event.ts_recv

    def has_news(self, epoch: str, since: int) -> bool:
        """Whether `updates(epoch, since)` would return anything."""
        return bool(self._touched) or epoch != self.epoch or since < self.version

    def updates(self, epoch: str, since: int) -> FeatureUpdate:
        """Every vector that changed after version `since` (all of them for another epoch)."""
        self._publish()
        if epoch != self.epoch:
            since = 0
        changed = tuple(live for version, live in self._latest.values() if version > since)
        return FeatureUpdate(self.epoch, self.version, changed)

    def _publish(self) -> None:
        for (venue, symbol), ts_recv in self._touched.items():
            vector = self.tracker.vector(venue, symbol)
            if vector is None:  # the tracker is full: the instrument is not tracked
                continue
            self.version += 1
            self._latest[venue, symbol] = (self.version, LiveVector(vector, ts_recv))
        self._touched.clear()
