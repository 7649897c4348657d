"""Check a store against the simulator's ground truth: the guarantees, as a report.

1. Every trade published while we were subscribed is stored exactly once, with its exact values.
2. Books are exact outside recorded gaps: replaying the stored book events through the same
   BookSync the live system uses, every in-sync state equals the venue's book at that update id
   (or venue time, for venues without ids).
Used by `mdc verify`, the integration tests and the chaos suite.
"""

from __future__ import annotations

import bisect
import enum
import itertools
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING

import msgspec

from mdc.errors import CollectorError
from mdc.events import BookDelta, BookSnapshot, Event, Gap, Trade, from_json, identity
from mdc.sync import BookSync
from mdc.venues.registry import get_venue

if TYPE_CHECKING:
    from mdc.store import Store
    from mdc.store.checkpoints import BookAt

BOOK_SAMPLE_EVERY = 25
"""Compare every Nth in-sync state (and the last): each comparison sorts two whole books."""


class TruthError(CollectorError):
    pass


class TruthBook:
    """One symbol's true book history (base + ordered updates), walked forward on demand."""

    def __init__(self, record: dict) -> None:
        self.record = record
        self._reset()

    def _reset(self) -> None:
        r = self.record
        self.bids = {Decimal(p): Decimal(s) for p, s in r["bids"]}
        self.asks = {Decimal(p): Decimal(s) for p, s in r["asks"]}
        self.update_id, self.ts = r["base_update_id"], r["base_ts"]
        self.next = 0

    def at(self, *, update_id: int | None = None, ts: int | None = None) -> bool:
        """Move to the state after `update_id` (or the last update at or before `ts`); False
        when that state is older than the retained history."""
        key, target = (0, update_id) if update_id is not None else (1, ts)
        current = self.update_id if key == 0 else self.ts
        if target < current:
            self._reset()
            current = self.update_id if key == 0 else self.ts
            if target < current:
                return False
        updates = self.record["updates"]
        while self.next < len(updates) and updates[self.next][key] <= target:
            uid, uts, changes = updates[self.next]
            for side, price, size in changes:
                levels = self.bids if side == "bid" else self.asks
                if Decimal(size):
                    levels[Decimal(price)] = Decimal(size)
                else:
                    levels.pop(Decimal(price), None)
            self.update_id, self.ts, self.next = uid, uts, self.next + 1
        return True

    def top(self, depth: int | None) -> tuple[list, list]:
        bids = sorted(self.bids.items(), reverse=True)[:depth]
        return bids, sorted(self.asks.items())[:depth]


@dataclass
class VenueTruth:
    trades: dict[str, list[Trade]] = field(default_factory=lambda: defaultdict(list))
    books: dict[str, dict] = field(default_factory=dict)


def load_truth(paths: Iterable[Path]) -> dict[str, VenueTruth]:
    truth: dict[str, VenueTruth] = defaultdict(VenueTruth)
    for path in paths:
        for number, line in enumerate(Path(path).read_bytes().splitlines(), start=1):
            try:
                doc = msgspec.json.decode(line)
                if doc["type"] == "trade":
                    trade = from_json(line)
                    truth[trade.venue].trades[trade.symbol].append(trade)
                elif doc["type"] == "truth_book_history":
                    truth[doc["venue"]].books[doc["symbol"]] = doc
            except (msgspec.DecodeError, msgspec.ValidationError, KeyError) as exc:
                raise TruthError(f"{path}:{number}: not a ground-truth record: {exc}") from exc
    return truth


@dataclass
class Finding:
    check: str
    venue: str
    symbol: str
    detail: str


@dataclass
class VerifyReport:
    trades_expected: int = 0
    trades_found: int = 0
    trades_missing: int = 0
    trades_duplicated: int = 0
    trades_wrong: int = 0
    book_states_checked: int = 0
    book_mismatches: int = 0
    book_gaps: int = 0
    book_order_breaks: int = 0
    """Places where the stored-order replay loses the book with no Gap recorded."""
    book_at_checked: int = 0
    book_at_not_in_sync: int = 0
    findings: list[Finding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.findings

    def add(self, check: str, venue: str, symbol: str, detail: str) -> None:
        if len(self.findings) < 1000:
            self.findings.append(Finding(check, venue, symbol, detail))

    def lines(self) -> list[str]:
        head = [
            f"trades: {self.trades_found} of {self.trades_expected} published while subscribed "
            f"found; missing {self.trades_missing}, duplicated {self.trades_duplicated}, "
            f"wrong values {self.trades_wrong}",
            f"books: {self.book_states_checked} in-sync states compared with the venue's book, "
            f"{self.book_mismatches} differed; {self.book_gaps} recorded book gaps, "
            f"{self.book_order_breaks} breaks without one",
            f"book at an instant: {self.book_at_checked} sampled instants in sync and compared, "
            f"{self.book_at_not_in_sync} not in sync",
            "result: OK" if self.ok else f"result: {len(self.findings)} violation(s)",
        ]
        return head + [f"  {f.check} {f.venue}/{f.symbol}: {f.detail}" for f in self.findings[:50]]


BookAtFn = Callable[[str, str, int, "int | None"], "BookAt"]
"""(venue, symbol, at_ns, depth) -> the book users read at that instant (`Store.book_at`)."""

GAP_RECORDED_WITHIN_NS = 1_000_000_000
"""The live BookActor stores the Gap for a loss it sees with the receive time of the event that
showed it, just after that event; a later Gap (a shutdown) does not explain the loss."""

BOOK_AT_SAMPLES = 20
"""Instants per book stream at which the book at an instant is rebuilt and checked."""


def verify(
    events: Iterable[Event],
    truth: dict[str, VenueTruth],
    *,
    end_ns: int | None = None,
    book_at: BookAtFn | None = None,
) -> VerifyReport:
    """`events` in stored order within each stream (as `Store.iter_events` gives them); trades
    published after `end_ns` (venue time) are not expected. With `book_at`, the book users read
    at sampled instants is checked too."""
    report = VerifyReport()
    trades: dict[tuple[str, str], list[Trade]] = defaultdict(list)
    books: dict[tuple[str, str], list[Event]] = defaultdict(list)
    for event in events:
        key = (event.venue, event.symbol)
        if isinstance(event, Trade) and not event.aggregate:
            trades[key].append(event)
        elif _in_book_stream(event):
            books[key].append(event)
    for (venue, symbol), stored in trades.items():
        published = truth[venue].trades.get(symbol, []) if venue in truth else []
        _check_trades(report, (venue, symbol), stored, published, end_ns)
    for (venue, symbol), stream in books.items():
        record = truth[venue].books.get(symbol) if venue in truth else None
        if record is not None:
            checker = _BookChecker(report, venue, symbol, TruthBook(record))
            states = checker.replay(stream)
            if book_at is not None:
                checker.check_book_at(stream, states, book_at)
    return report


def _in_book_stream(event: Event) -> bool:
    """What `book_at` replays: the book's own stream (book Gaps included)."""
    if isinstance(event, BookSnapshot | BookDelta):
        return True
    return isinstance(event, Gap) and event.stream == "book"


def verify_store(store: Store, truth: dict[str, VenueTruth], end_ns: int | None) -> VerifyReport:
    """Everything users read from `store`: its events, and the book at sampled instants."""

    def book_at(venue: str, symbol: str, at_ns: int, depth: int | None) -> BookAt:
        return store.book_at(venue, symbol, at_ns, depth=depth)

    return verify(store.iter_events(), truth, end_ns=end_ns, book_at=book_at)


def _check_trades(
    report: VerifyReport,
    where: tuple[str, str],
    stored: list[Trade],
    published: list[Trade],
    end_ns: int | None,
) -> None:
    venue, symbol = where
    if not published:
        return
    counts = Counter(identity(t) for t in stored)
    # "While subscribed" starts at the first trade received, in the venue's publication order
    # (trades sharing a timestamp may have been published just before we subscribed).
    first = next((i for i, t in enumerate(published) if identity(t) in counts), len(published))
    end = end_ns if end_ns is not None else max(t.ts_event for t in stored)
    expected = {identity(t): t for t in published[first:] if t.ts_event <= end}
    found = {identity(t): t for t in stored}
    report.trades_expected += len(expected)
    for key, trade in expected.items():
        if key not in found:
            report.trades_missing += 1
            report.add("trade-missing", venue, symbol, f"trade {trade.trade_id} never stored")
            continue
        report.trades_found += 1
        if counts[key] > 1:
            report.trades_duplicated += 1
            report.add(
                "trade-duplicated",
                venue,
                symbol,
                f"trade {trade.trade_id} stored {counts[key]} times",
            )
        if _trade_values(found[key]) != _trade_values(trade, found[key].side == "unknown"):
            report.trades_wrong += 1
            report.add(
                "trade-wrong",
                venue,
                symbol,
                f"trade {trade.trade_id}: stored "
                f"{_trade_values(found[key])}, published {_trade_values(trade)}",
            )


def _trade_values(trade: Trade, side_unknown: bool = False) -> tuple:
    """Prices compare as numbers; a venue that does not report the aggressor (Alpaca) stores
    side 'unknown', which matches whatever the simulator's model decided."""
    return trade.price, trade.size, "unknown" if side_unknown else trade.side, trade.ts_event


class _Replay(enum.Enum):
    """A stored book stream's state after each event, replayed in stored order."""

    IN_SYNC = 1
    AWAITING = 2
    """Out of sync for a recorded reason: before the first snapshot, or after a stored Gap."""
    BROKEN = 3
    """Out of sync although no Gap was recorded: events stored out of the venue's order."""


@dataclass
class _Break:
    """A loss the stored-order replay found, waiting for the Gap that records it."""

    index: int
    event: Event
    derived: Event
    resynced: int | None = None  # where the replay was back in sync, if it was


class _BookChecker:
    """One symbol's stored book stream against the venue's true book."""

    def __init__(self, report: VerifyReport, venue: str, symbol: str, true_book: TruthBook):
        self.report, self.venue, self.symbol, self.true_book = report, venue, symbol, true_book
        self.adapter = get_venue(venue)
        self.depth = self.adapter.book_sync(symbol).rules.depth

    def replay(self, stream: list[Event]) -> list[_Replay]:
        """Each event's state, replayed in stored order (as users' reads do): sampled in-sync
        states must equal the venue's book, and the sync may break only where a Gap is recorded
        for that instant: the live BookActor stores its Gap with the receive time of the event
        that showed the loss, after it, and, when it lags behind the store, possibly after a
        snapshot that already repaired the book."""
        sync: BookSync = self.adapter.book_sync(self.symbol)
        states: list[_Replay] = []
        state, verifiable, in_sync_seen = _Replay.AWAITING, False, 0
        pending: _Break | None = None
        for index, event in enumerate(stream):
            derived = sync.on_event(event)
            if (
                pending is not None
                and event.ts_recv > pending.event.ts_recv + GAP_RECORDED_WITHIN_NS
            ):
                self._broken(pending)  # no Gap came for that loss in time
                pending = None
            if isinstance(event, Gap):
                self.report.book_gaps += 1
                if pending is not None and _records(event, pending.event):
                    end = index if pending.resynced is None else pending.resynced
                    states[pending.index : end] = [_Replay.AWAITING] * (end - pending.index)
                    pending = None
                if not sync.in_sync:
                    state = _Replay.AWAITING
            elif derived and state is _Replay.IN_SYNC:
                if pending is not None:
                    self._broken(pending)
                state, pending = _Replay.BROKEN, _Break(index, event, derived[0])
            if isinstance(event, BookSnapshot):
                verifiable = event.update_id is not None
            elif isinstance(event, BookDelta):
                verifiable = True
            if sync.in_sync:
                if pending is not None and pending.resynced is None:
                    pending.resynced = index  # back in sync; its Gap may still be on the way
                state = _Replay.IN_SYNC
            states.append(state)
            if sync.in_sync and verifiable:
                in_sync_seen += 1
                if in_sync_seen % BOOK_SAMPLE_EVERY == 0 or index == len(stream) - 1:
                    self._compare(
                        sync.last_update_id, sync.last_ts_event, sync.book.top(self.depth)
                    )
        if pending is not None:
            self._broken(pending)
        return states

    def check_book_at(self, stream: list[Event], states: list[_Replay], book_at: BookAtFn) -> None:
        """The `mdc book --at` path at instants spread over the stream: in sync and equal to
        the venue's book, or out of sync only where the stored-order replay has a recorded
        reason (before the first snapshot, after a recorded Gap)."""
        # book_at applies events up to the first with ts_recv > T: the first whose running
        # maximum exceeds T, which a bisection over the running maxima finds.
        reached = list(itertools.accumulate((e.ts_recv for e in stream), max))
        for at_ns in _sample_instants(stream, BOOK_AT_SAMPLES):
            book = book_at(self.venue, self.symbol, at_ns, self.depth)
            if book.in_sync:
                self.report.book_at_checked += 1
                self._compare(book.update_id, book.ts_event, (book.bids, book.asks))
                continue
            self.report.book_at_not_in_sync += 1
            last = bisect.bisect_right(reached, at_ns) - 1
            if last >= 0 and states[last] is not _Replay.AWAITING:
                self.report.add(
                    "book-at-not-in-sync",
                    self.venue,
                    self.symbol,
                    f"the book at {at_ns} is not in sync, and no gap was recorded before it",
                )

    def _broken(self, loss: _Break) -> None:
        index, event, derived = loss.index, loss.event, loss.derived
        self.report.book_order_breaks += 1
        reason = derived.reason if isinstance(derived, Gap) else type(derived).__name__
        self.report.add(
            "book-order",
            self.venue,
            self.symbol,
            f"stored event {index} ({_describe(event)}) breaks the book with no recorded gap: "
            f"{reason}",
        )

    def _compare(self, update_id: int | None, ts_event: int, ours: tuple[list, list]) -> None:
        if self.adapter.book_update_ids:
            found = update_id is not None and self.true_book.at(update_id=update_id)
        else:
            found = self.true_book.at(ts=ts_event)
        if not found:
            return
        self.report.book_states_checked += 1
        if (list(ours[0]), list(ours[1])) != self.true_book.top(self.depth):
            self.report.book_mismatches += 1
            self.report.add(
                "book-wrong",
                self.venue,
                self.symbol,
                f"at update {self.true_book.update_id} / venue "
                f"time {self.true_book.ts}: in sync but not the venue's book",
            )


def _sample_instants(stream: list[Event], n: int) -> list[int]:
    """`n` receive times spread evenly over the stream's span."""
    times = [e.ts_recv for e in stream]
    first, last = min(times), max(times)
    return sorted({first + (last - first) * i // max(1, n - 1) for i in range(n)})


def _records(gap: Gap, breaking: Event) -> bool:
    """Whether a stored `gap` is the record of the loss that `breaking` showed on replay."""
    return gap.ts_recv <= breaking.ts_recv + GAP_RECORDED_WITHIN_NS


def _describe(event: Event) -> str:
    if isinstance(event, BookDelta):
        return f"delta {event.first_update_id}..{event.last_update_id}, ts_recv {event.ts_recv}"
    return f"{type(event).__name__}, ts_recv {event.ts_recv}"
