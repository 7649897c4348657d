"""The live alert evaluator: a follower of the durable log (no Ray here; `alerts/actor.py` is
the actor around it).

It reads what the writer has made durable, from its saved position, in the order `mdc alerts
replay` reads it; feeds the evaluator; hands transitions to the dispatcher; sends what the
dispatcher says is due; and saves position, evaluator and dispatcher together in one file
(`DATA_DIR/alerts/state.msgpack`, replaced atomically), so a restart neither misses an event
nor re-sends a notification that was already sent. A crash between a send and the next save
can send that notification once more (at-least-once, like Alertmanager).

Time: the evaluator runs on the events' receive times. Where no event comes, the clock is
advanced to the wall clock minus `grace` (an event that became durable later than that, with an
older receive time, is evaluated late: the one way live can differ from replay), and only when
the follower has read everything durable.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

import msgspec
import orjson

from alerts.delivery import Delivery, Undeliverable
from mdc.alerts.config import AlertConfig
from mdc.alerts.dispatch import Dispatcher, fingerprint
from mdc.alerts.evaluator import STREAMS, AlertEvaluator, AlertState, Transition
from mdc.alerts.files import ACTIVE_FILE, ALERTS_DIR, HISTORY_FILE, STATE_FILE
from mdc.alerts.silences import SilenceFile, silence_dict
from mdc.store.follow import Follower, Position
from mdc.store.fs import RealFS
from mdc.store.projection import append_line, atomic_write
from mdc.store.streams import StreamFilter
from mdc.store.wal import WAL
from serve.streaming.hub import TailSource, open_durable_wal

log = logging.getLogger(__name__)

GRACE_NS = 2 * 10**9
READ_EVENTS = 4096
SAVE_EVERY_S = 1.0


@dataclass
class FollowerStats:
    events: int = 0
    lag_ns: int = 0
    transitions: int = 0
    notifications: int = 0
    save_failures: int = 0


class AlertFollower:
    def __init__(
        self,
        data_dir: str,
        config: AlertConfig,
        tails: TailSource,
        dead_letter: Callable[[Undeliverable], None],
        start: Position,
        *,
        clock_ns: Callable[[], int] = time.time_ns,
        observer: Callable[[Transition], None] | None = None,
    ) -> None:
        self.data_dir, self.config, self._tails, self._clock = data_dir, config, tails, clock_ns
        self._start = start
        self._observer = observer
        self.delivery = Delivery(config.channels, dead_letter)
        self.silences = SilenceFile.of(data_dir)
        self.stats = FollowerStats()
        self._version = -1
        self._wal: WAL | None = None
        self._follower: Follower | None = None
        self._dirty = False
        self._history: list[Transition] = []

    async def start(self) -> None:
        self._version, tails = await self._tails.next(self._version)
        self._wal = await asyncio.to_thread(open_durable_wal, self.data_dir, tails)
        position = self._restore()
        self._follower = Follower(self._wal, position, StreamFilter(families=STREAMS))
        await self.delivery.start()

    def _restore(self) -> Position:
        """The saved state, or a fresh evaluator from `start` (for `mdc run`: where the log
        ended before this run's providers started, so a venue that never connects still
        fires)."""
        now = self._clock()
        path = os.path.join(self.data_dir, STATE_FILE)
        rules, routing = self.config.rules, self.config.routing
        try:
            with open(path, "rb") as f:
                saved = msgspec.msgpack.decode(f.read())
        except FileNotFoundError:
            self.evaluator = AlertEvaluator(rules)
            self.dispatcher = Dispatcher(routing)
            return self._start
        self.evaluator = AlertEvaluator.restore(rules, saved["evaluator"])
        self.dispatcher = Dispatcher.restore(routing, saved["dispatcher"], now)
        return Position.from_bytes(saved["position"])

    async def run(self) -> None:
        """Follow until cancelled."""
        last_save = 0.0
        while True:
            self.step()
            if self._dirty and time.monotonic() - last_save >= SAVE_EVERY_S:
                await asyncio.to_thread(self.try_save)
                last_save = time.monotonic()
            version, tails = await self._tails.next(self._version)
            if version != self._version:
                self._version = version
                assert self._wal is not None
                self._wal.follow(tails)

    def step(self) -> None:
        """Read everything durable, advance the clock, dispatch and send what is due."""
        assert self._follower is not None
        now = self._clock()
        transitions: list[Transition] = []
        while batch := self._follower.next_batch(READ_EVENTS):
            for event in batch.events:
                transitions += self.evaluator.feed(event)
            self.stats.events += len(batch.events)
            self.stats.lag_ns = max(0, now - batch.events[-1].ts_recv)
            self._dirty = True
        transitions += self.evaluator.advance(now - GRACE_NS)
        if self.silences.changed():
            self.dispatcher.silences = self.silences.load()
        self.stats.transitions += len(transitions)
        self._history += transitions
        for transition in transitions:
            if self._observer is not None:
                self._observer(transition)
            self.dispatcher.add(transition, now)
        for notification in self.dispatcher.flush_due(now):
            self.delivery.submit(notification)
            self.stats.notifications += 1
            self._dirty = True
        self._dirty |= bool(transitions)

    def firing(self) -> Counter[tuple[str, str]]:
        """Alerts firing now by (rule, severity)."""
        return Counter(
            (a.rule.name, a.rule.severity)
            for a in self.evaluator.alerts()
            if a.state is AlertState.FIRING
        )

    def try_save(self) -> bool:
        """`save`, but a full or failing disk is logged, not fatal: the evaluation goes on in
        memory and the next save tries again (a restart before one succeeds re-evaluates from
        the last saved position, and may notify once more what was sent since)."""
        try:
            self.save()
        except OSError as exc:
            self.stats.save_failures += 1
            log.error("alert state not saved (will retry): %s", exc)
            return False
        return True

    def save(self) -> None:
        """Position, evaluator and dispatcher in one atomic file; the active alerts beside."""
        assert self._follower is not None
        state = {
            "position": self._follower.position.to_bytes(),
            "evaluator": self.evaluator.snapshot(),
            "dispatcher": self.dispatcher.snapshot(),
        }
        os.makedirs(os.path.join(self.data_dir, ALERTS_DIR), exist_ok=True)
        if self._history:
            lines = b"\n".join(orjson.dumps(t.to_dict()) for t in self._history)
            append_line(os.path.join(self.data_dir, HISTORY_FILE), lines)
            self._history = []
        atomic_write(os.path.join(self.data_dir, STATE_FILE), msgspec.msgpack.encode(state))
        atomic_write(os.path.join(self.data_dir, ACTIVE_FILE), orjson.dumps(self.active()))
        self._dirty = False

    def active(self) -> dict:
        """What `mdc alerts list` shows: pending and firing alerts, muted or not, and silences."""
        now = self._clock()
        alerts = []
        for alert in self.evaluator.alerts():
            labels = dict(alert.labels)
            record = self.dispatcher.alerts.get(fingerprint(alert.labels))
            firing = alert.state is AlertState.FIRING
            alerts.append(
                {
                    "labels": labels,
                    "state": alert.state.value,
                    "since": alert.fired_at if firing else alert.active_at,
                    "value": record.value if record is not None else "",
                    "silenced": record is not None and self.dispatcher.silenced(record, now),
                    "inhibited": record is not None and self.dispatcher.inhibited(record),
                }
            )
        silences = [
            silence_dict(s, now) for s in self.dispatcher.silences.values() if s.ends_at_ns > now
        ]
        return {"written": now, "alerts": alerts, "silences": silences}

    async def stop(self, drain_s: float = 5.0) -> None:
        """Send what is due, wait a little for deliveries, save."""
        self.step()
        await self.delivery.drain(drain_s)
        await self.delivery.close()
        await asyncio.to_thread(self.try_save)
        if self._wal is not None:
            self._wal.close()


def log_end(data_dir: str) -> Position:
    """Where the log ends now (nothing yet: the start): taken before the providers start."""
    root = os.path.join(data_dir, "wal")
    if not os.path.isdir(root):
        return Position.of({})
    wal, _ = WAL.open(root, RealFS(), readonly=True)
    try:
        return Position.of(wal.positions())
    finally:
        wal.close()
