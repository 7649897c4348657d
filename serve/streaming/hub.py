"""The live end of the durable log, shared by every subscriber of one server.

One `Follower` reads what the writer acknowledged (its tails come from a `TailSource`), decodes
each event once, encodes it once for the subscribers that want its stream (`encode.framed`), and
pushes it into their outboxes without ever waiting: a stalled subscriber only fills its own
outbox, where its policy applies (`mdc.distribution.outbox`). Nothing here waits on a client.

A subscriber that starts in the past (a time, a position) or needs history (depth: the book;
bars: the open interval) first replays from the store with its own follower, at its own pace
(replay waits for room in its outbox instead of thinning), capped at what the writer has
acknowledged. When it has read at least as far as the hub in every stream it wants, it is
attached to the hub in the same step (no await in between), with a per-stream floor: the hub's
events below its floor are ones the replay already gave it. So the handoff has no gap and no
duplicate.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from actors.waiting import Versions
from mdc.distribution import encode
from mdc.distribution.outbox import Item, Outbox
from mdc.distribution.subscription import (
    FromPosition,
    FromTime,
    Kind,
    Live,
    Subscription,
    check_position,
)
from mdc.distribution.views import BarViews, DepthViews, ViewOut
from mdc.errors import CollectorError
from mdc.events import Event
from mdc.store.checkpoints import CheckpointProjection, venue_book_sync
from mdc.store.follow import Follower, Position
from mdc.store.fs import RealFS
from mdc.store.streams import Stream
from mdc.store.wal import WAL, Tail

log = logging.getLogger(__name__)

READ_EVENTS = 512
"""Events read per step: the hub yields to the senders between steps."""
OUTBOX_CAPACITY = 10_000
"""Events a subscriber may be behind before its policy applies."""
FLUSH_EVERY_S = 0.05
"""How often held depth views (conflation) and finished bars are let out."""


def open_durable_wal(data_dir: str, tails: Mapping[Stream, Tail]) -> WAL:
    """The store's log, read-only and capped at the writer's word (`tails`): never ahead of
    durability. What every follower of a running collector's log reads from."""
    wal, _ = WAL.open(os.path.join(data_dir, "wal"), RealFS(), readonly=True)
    wal.cap({s: t.end for s, t in tails.items()})
    wal.follow(tails)
    return wal


class TailSource(Protocol):
    """Where the writer's durable tails come from: `next(since)` waits until the version moves
    past `since` (or a while passed) and returns the version and the tails."""

    async def next(self, since: int) -> tuple[int, dict[Stream, Tail]]: ...


@dataclass(eq=False)
class Feed:
    """One subscriber as the hub sees it."""

    subscription: Subscription
    outbox: Outbox
    views: DepthViews | BarViews | None
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    room: asyncio.Event = field(default_factory=asyncio.Event)
    floor: dict[Stream, int] = field(default_factory=dict)
    emit_from: Callable[[Stream, int, Event], bool] = lambda _s, _q, _e: True
    keep: Callable[[Event], bool] | None = None
    """A start from a time keeps only events received since, live too: an event received
    before it may become durable after the subscriber joined the live stream."""
    error: BaseException | None = None  # why its replay failed (the sender ends the stream)
    cut: Callable[[str], None] | None = None  # ends the stream of one that fell too far behind
    cut_off: bool = False
    data_clock: tuple[int, int] = (0, 0)
    """(ts_recv of the last event its views got, monotonic ns then): the receive clock its
    views close bars and let conflated views out by. It runs from the data, so a replay of
    last year closes bars as the trades of the next interval arrive, not all at once."""

    def flush_views(self) -> None:
        if self.views is None or not self.data_clock[0]:
            return
        recv_ns, then = self.data_clock
        outs = self.views.flush(recv_ns + time.monotonic_ns() - then)
        if outs:
            self.push_views(outs)
            self.wake.set()

    def offer(self, stream: Stream, seq: int, event: Event, framed: bytes | None) -> bytes | None:
        """Give it one stored event (`framed`: its encoding if already made); returns the
        encoding, made here if it was needed and not yet made."""
        if seq < self.floor.get(stream, 0) or (self.keep is not None and not self.keep(event)):
            return framed
        views = self.views
        if views is None:
            if framed is None:
                framed = encode.framed(event, stream, seq)
            self.outbox.push(Item((event.venue, event.symbol), stream, seq, framed))
            return framed
        self.data_clock = (event.ts_recv, time.monotonic_ns())
        if isinstance(views, DepthViews):
            outs = views.feed(stream, seq, event, self.emit_from(stream, seq, event))
        else:
            outs = views.feed(stream, seq, event) if self.emit_from(stream, seq, event) else []
        self.push_views(outs)
        return framed

    def push_views(self, outs: list[ViewOut]) -> None:
        for out in outs:
            key = (out.event.venue, out.event.symbol)
            self.outbox.push(Item(key, out.stream, out.seq, encode.framed(*out)))

    def take(self, max_items: int) -> tuple[list[bytes], Position] | None:
        taken = self.outbox.pop(max_items)
        self.room.set()
        return taken


def _gap_encoder(stream: Stream, first: int, last: int, count: int) -> bytes:
    gap = encode.SkippedGap(
        stream.venue,
        stream.symbol,
        0,
        time.time_ns(),
        "subscriber",
        f"slow consumer: {count} events skipped",
        first,
        last,
        skipped_stream=stream.dirname,
    )
    return encode.framed(gap, stream, last)


class _Wanted:
    """A subscription as a stream filter (what `Follower` takes)."""

    def __init__(self, subscription: Subscription) -> None:
        self.matches = subscription.wants


class Hub:
    def __init__(self, data_dir: str, tails: TailSource, capacity: int = OUTBOX_CAPACITY) -> None:
        self.data_dir = data_dir
        self._source = tails
        self._capacity = capacity
        self._feeds: list[Feed] = []
        self._routes: dict[Stream, list[Feed]] = {}
        self._wal: WAL | None = None
        self._follower: Follower | None = None
        self._tails: dict[Stream, Tail] = {}
        self._versions = Versions(-1)  # the source's version of `_tails`
        self.delivered = 0

    # -- the shared follower ----------------------------------------------------------------

    async def start(self) -> None:
        """Open the log at its durable end: live from there."""
        version, self._tails = await self._source.next(self._versions.version)
        self._versions.move(version)
        self._wal = await asyncio.to_thread(self._open_wal)
        ends = {s: t.end for s, t in self._tails.items()}
        self._follower = Follower(self._wal, Position.of(ends))

    @property
    def tails(self) -> tuple[int, dict[Stream, Tail]]:
        """The durable tails the hub follows, and their version."""
        return self._versions.version, self._tails

    async def tails_after(self, version: int, timeout_s: float) -> tuple[int, dict[Stream, Tail]]:
        """The tails once their version moved past `version`, or as they are after `timeout_s`:
        what other followers of the same log (replication) wait on, without polling the
        writer again."""
        await self._versions.past(version, timeout_s)
        return self.tails

    def _open_wal(self) -> WAL:
        return open_durable_wal(self.data_dir, self._tails)

    async def run(self) -> None:
        """Follow the log until cancelled."""
        assert self._wal is not None
        flusher = asyncio.create_task(self._flush_views())
        try:
            while True:
                self._deliver()
                version, tails = await self._source.next(self._versions.version)
                if version != self._versions.version:
                    self._tails = tails
                    self._wal.follow(tails)
                    self._versions.move(version)
        finally:
            flusher.cancel()

    def _deliver(self) -> None:
        """Everything durable the follower has not read yet, to the outboxes (no await: a
        subscriber attaches between two deliveries, never in the middle of one)."""
        assert self._follower is not None
        while batch := self._follower.next_batch(READ_EVENTS):
            woken = set()
            for (stream, seq), event in batch.items:
                feeds = self._routes.get(stream)
                if feeds is None:
                    feeds = self._routes[stream] = [
                        f for f in self._feeds if f.subscription.wants(stream)
                    ]
                framed = None
                for feed in feeds:
                    framed = feed.offer(stream, seq, event, framed)
                    woken.add(feed)
            self.delivered += len(batch)
            for feed in woken:
                feed.wake.set()
                if feed.outbox.overflow is not None and not feed.cut_off and feed.cut:
                    feed.cut_off = True  # its sender may be stuck in a write: end it from here
                    feed.cut(feed.outbox.overflow)

    async def _flush_views(self) -> None:
        while True:
            await asyncio.sleep(FLUSH_EVERY_S)
            for feed in self._feeds:
                feed.flush_views()

    @property
    def position(self) -> Position:
        assert self._follower is not None
        return self._follower.position

    @property
    def subscribers(self) -> int:
        return len(self._feeds)

    def venues(self) -> set[str]:
        return {s.venue for s in self._tails}

    # -- subscribers ------------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def attach(self, subscription: Subscription) -> AsyncIterator[Feed]:
        """A feed for `subscription`: replayed up to the hub, then attached to it; detached
        when the block ends, however it ends."""
        feed = Feed(subscription, self._outbox(subscription), _views(subscription))
        replay = asyncio.create_task(self._replay_guarded(feed))
        try:
            yield feed
        finally:
            replay.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await replay
            if feed in self._feeds:
                self._feeds.remove(feed)
                self._routes.clear()

    def _outbox(self, subscription: Subscription) -> Outbox:
        start = self._start_position(subscription)
        return Outbox(subscription.policy, self._capacity, start, _gap_encoder)

    def _start_position(self, subscription: Subscription) -> Position:
        """Where the subscriber's positions start (checked against what the log holds)."""
        start = subscription.start
        if isinstance(start, FromPosition):
            assert self._wal is not None
            ends = {s: t.end for s, t in self._tails.items()}
            check_position(start.position, ends, self._wal.firsts())
            return start.position
        if isinstance(start, FromTime):
            return Position.start()
        return _restricted(self.position, subscription)

    async def _replay_guarded(self, feed: Feed) -> None:
        """A replay that fails (a damaged store, a vanished file) ends that stream with why."""
        try:
            await self._replay_then_attach(feed)
        except (CollectorError, OSError) as exc:
            log.warning("subscription replay failed: %s", exc)
            feed.error = exc
            feed.wake.set()

    async def _replay_then_attach(self, feed: Feed) -> None:
        sub = feed.subscription
        if isinstance(sub.start, Live) and feed.views is None:  # stored events as they are
            self._attach(feed, self.position.as_dict())
            return
        wal = await asyncio.to_thread(self._open_wal)
        try:
            position, feed.keep = self._replay_plan(feed, wal)
            with Follower(wal, position, _Wanted(sub), feed.keep) as follower:  # type: ignore[arg-type]
                await self._replay(feed, wal, follower)
        finally:
            wal.close()

    def _replay_plan(self, feed: Feed, wal: WAL) -> tuple[Position, Callable[[Event], bool] | None]:
        """Where the replay starts and which events it keeps; sets when views start emitting."""
        sub, start = feed.subscription, feed.subscription.start
        if sub.kind is Kind.DEPTH:
            return self._depth_plan(feed, wal), None
        if isinstance(start, FromPosition):
            return start.position, None
        if isinstance(start, FromTime):
            return Position.start(), lambda e: e.ts_recv >= start.ns
        # live bars: the trades of the interval now open, so its bar is whole
        interval_ns = sub.interval_s * 1_000_000_000
        opened = time.time_ns() // interval_ns * interval_ns
        return Position.start(), lambda e: e.ts_event >= opened

    def _depth_plan(self, feed: Feed, wal: WAL) -> Position:
        """Depth needs the book: each wanted book stream replays from its newest checkpoint
        before the start (restored into the views), silently up to the start."""
        sub, start = feed.subscription, feed.subscription.start
        checkpoints = CheckpointProjection(self.data_dir, venue_book_sync)
        wanted = [s for s in wal.positions() if sub.wants(s)]
        at_ns = start.ns if isinstance(start, FromTime) else None
        restored, seqs = {}, {}
        for stream in wanted:
            cp = checkpoints.latest(stream, at_ns)
            if (
                isinstance(start, FromPosition)
                and cp
                and cp.seq >= start.position.as_dict().get(stream, 0)
            ):
                cp = None
            restored[stream] = (checkpoints.restore(stream, cp), cp.seq if cp else -1)
            seqs[stream] = cp.seq + 1 if cp else 0
        assert isinstance(feed.views, DepthViews)
        feed.views.adopt(restored)
        if isinstance(start, FromTime):
            feed.emit_from = lambda _s, _q, e: e.ts_recv >= start.ns
        elif isinstance(start, FromPosition):
            begin = start.position.as_dict()
            feed.emit_from = lambda s, q, _e: q >= begin.get(s, 0)
        else:
            feed.emit_from = lambda _s, _q, _e: False  # until attached: then current()
        return Position.of(seqs)

    async def _replay(self, feed: Feed, wal: WAL, follower: Follower) -> None:
        step = max(1, min(READ_EVENTS, feed.outbox.capacity // 2))
        while True:
            while len(feed.outbox) > feed.outbox.capacity - step:  # a replay waits, never thins
                feed.room.clear()
                await feed.room.wait()
            batch = await asyncio.to_thread(follower.next_batch, step)
            if batch:
                for (stream, seq), event in batch.items:
                    feed.offer(stream, seq, event, None)
                feed.wake.set()
                continue
            mine = follower.position.as_dict()
            hub = self.position.as_dict()
            if any(mine.get(s, 0) < seq for s, seq in hub.items() if feed.subscription.wants(s)):
                wal.follow(self._tails)  # the hub read further meanwhile: catch up to it
                continue
            self._attach(feed, mine)
            return

    def _attach(self, feed: Feed, floor: dict[Stream, int]) -> None:
        feed.floor = floor
        if feed.views is not None:
            if isinstance(feed.views, DepthViews) and isinstance(feed.subscription.start, Live):
                feed.push_views(feed.views.current())
            feed.emit_from = lambda _s, _q, _e: True
        self._feeds.append(feed)
        self._routes.clear()
        feed.wake.set()


def _restricted(position: Position, subscription: Subscription) -> Position:
    return Position.of({s: q for s, q in position.seqs if subscription.wants(s)})


def _views(subscription: Subscription) -> DepthViews | BarViews | None:
    if subscription.kind is Kind.DEPTH:
        return DepthViews(subscription.levels, subscription.conflate_ns)
    if subscription.kind is Kind.BARS:
        return BarViews(subscription.interval_s)
    return None
