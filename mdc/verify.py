"""Check a store against the simulator's ground truth: the guarantees, as a report.

1. Every trade published while we were subscribed is stored exactly once, with its exact values.
2. Books are exact outside recorded gaps: replaying the stored book events through the same
   BookSync the live system uses, every in-sync state equals the venue's book at that update id
   (or venue time, for venues without ids).
Used by `mdc verify`, the integration tests and the chaos suite.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import msgspec

from mdc.errors import CollectorError
from mdc.events import BookDelta, BookSnapshot, Event, Gap, Trade, from_json, identity
from mdc.sync import BookSync
from mdc.venues.registry import get_venue

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
            f"{self.book_mismatches} differed; {self.book_gaps} recorded book gaps",
            "result: OK" if self.ok else f"result: {len(self.findings)} violation(s)",
        ]
        return head + [f"  {f.check} {f.venue}/{f.symbol}: {f.detail}" for f in self.findings[:50]]


def verify(
    events: Iterable[Event], truth: dict[str, VenueTruth], *, end_ns: int | None = None
) -> VerifyReport:
    """`events` in stored order; trades published after `end_ns` (venue time) are not expected."""
    report = VerifyReport()
    trades: dict[tuple[str, str], list[Trade]] = defaultdict(list)
    books: dict[tuple[str, str], list[Event]] = defaultdict(list)
    connection_gaps: dict[str, list[Gap]] = defaultdict(list)
    for event in events:
        key = (event.venue, event.symbol)
        if isinstance(event, Trade) and not event.aggregate:
            trades[key].append(event)
        elif isinstance(event, BookSnapshot | BookDelta):
            books[key].append(event)
        elif isinstance(event, Gap) and event.stream in ("book", "connection"):
            if event.symbol:
                books[key].append(event)
            else:
                connection_gaps[event.venue].append(event)
    for (venue, symbol), stored in trades.items():
        published = truth[venue].trades.get(symbol, []) if venue in truth else []
        _check_trades(report, (venue, symbol), stored, published, end_ns)
    for (venue, symbol), stream in books.items():
        merged = sorted(stream + connection_gaps[venue], key=lambda e: e.ts_recv)
        _check_book(report, venue, symbol, merged, truth.get(venue))
    return report


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


def _check_book(
    report: VerifyReport, venue: str, symbol: str, stream: list[Event], truth: VenueTruth | None
) -> None:
    record = truth.books.get(symbol) if truth else None
    if record is None:
        return
    true_book = TruthBook(record)
    adapter = get_venue(venue)
    sync: BookSync = adapter.book_sync(symbol)
    by_id = adapter.book_update_ids
    verifiable, in_sync_seen = False, 0
    for index, event in enumerate(stream):
        sync.on_event(event)
        if isinstance(event, Gap):
            report.book_gaps += event.symbol != ""
        elif isinstance(event, BookSnapshot):
            verifiable = event.update_id is not None
        elif isinstance(event, BookDelta):
            verifiable = True
        if not (sync.in_sync and verifiable):
            continue
        in_sync_seen += 1
        if in_sync_seen % BOOK_SAMPLE_EVERY and index != len(stream) - 1:
            continue
        if by_id:
            found = true_book.at(update_id=sync.last_update_id)
        else:
            found = true_book.at(ts=sync.last_ts_event)
        if not found:
            continue
        report.book_states_checked += 1
        depth = sync.rules.depth
        ours = sync.book.top(depth)
        if (list(ours[0]), list(ours[1])) != true_book.top(depth):
            report.book_mismatches += 1
            report.add(
                "book-wrong",
                venue,
                symbol,
                f"at update {true_book.update_id} / venue "
                f"time {true_book.ts}: in sync but not the venue's book",
            )
