"""Ground truth: every trade a venue published and its book at any update id or venue time.

A frame the network later dropped was still published, so truth records model events as the
venue emits them, before faults. Memory is bounded: book history keeps the last
`book_retention` updates per symbol (older states fold into a base book), trades stop at
`trade_cap` and any later question about trades raises `TruthIncomplete`.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import msgspec

from mdc.errors import CollectorError, LocalMisuse
from mdc.events import Level, Trade, to_json
from mdc.simulator.model import BookUpdate, Change, L2Book, ModelEvent, ModelTrade

T = TypeVar("T")
_encoder = msgspec.json.Encoder(decimal_format="string")


class TruthUnavailable(LocalMisuse):
    """The asked-for state is outside what truth retained (or never existed)."""


class TruthIncomplete(CollectorError):
    """More trades were published than the configured cap: truth cannot vouch for them."""


@dataclass(frozen=True, slots=True)
class BookState:
    symbol: str
    update_id: int
    ts_event: int
    """Venue timestamp (ns, truncated to the venue's wire resolution); 0 for the initial book."""
    bids: tuple[Level, ...]
    asks: tuple[Level, ...]

    def top(self, depth: int) -> BookState:
        return BookState(
            self.symbol, self.update_id, self.ts_event, self.bids[:depth], self.asks[:depth]
        )


class _BookHistory:
    """A base book plus the last N updates, replayed on demand."""

    def __init__(self, base: L2Book, base_update_id: int, retention: int) -> None:
        self._base = base.copy()
        self._base_id = base_update_id
        self._base_ts = 0
        self._updates: deque[tuple[int, int, tuple[Change, ...]]] = deque()
        self._retention = retention

    def record(self, update_id: int, ts_event: int, changes: tuple[Change, ...]) -> None:
        self._updates.append((update_id, ts_event, changes))
        if len(self._updates) > self._retention:
            self._base_id, self._base_ts, old = self._updates.popleft()
            self._base.apply(old)

    def at_update(self, update_id: int) -> tuple[L2Book, int, int]:
        last_id = self._updates[-1][0] if self._updates else self._base_id
        if not self._base_id <= update_id <= last_id:
            raise TruthUnavailable(
                f"update id {update_id} outside retained range {self._base_id}..{last_id}"
            )
        return self._replay(lambda uid, _ts: uid <= update_id)

    def at_ts(self, ts_event: int) -> tuple[L2Book, int, int]:
        if ts_event < self._base_ts:
            raise TruthUnavailable(
                f"venue time {ts_event} is older than retained ({self._base_ts})"
            )
        return self._replay(lambda _uid, ts: ts <= ts_event)

    def as_record(self) -> dict:
        """The retained history as plain data: base book plus every later update, in order."""
        return {
            "base_update_id": self._base_id,
            "base_ts": self._base_ts,
            "bids": self._base.top("bid"),
            "asks": self._base.top("ask"),
            "updates": [
                [uid, ts, [list(c) for c in changes]] for uid, ts, changes in self._updates
            ],
        }

    def _replay(self, keep: Callable[[int, int], bool]) -> tuple[L2Book, int, int]:
        book, update_id, ts = self._base.copy(), self._base_id, self._base_ts
        for uid, uts, changes in self._updates:
            if not keep(uid, uts):
                break
            book.apply(changes)
            update_id, ts = uid, uts
        return book, update_id, ts


class VenueTruth:
    """Truth for one venue; fed the model events the venue published, in order."""

    def __init__(
        self,
        venue: str,
        books: dict[str, tuple[L2Book, int]],
        to_trade: Callable[[ModelTrade], Trade],
        wire_ts: Callable[[int], int],
        limits: tuple[int, int],
    ) -> None:
        book_retention, self._trade_cap = limits
        self.venue = venue
        self._to_trade = to_trade
        self._wire_ts = wire_ts
        self._books = {s: _BookHistory(b, uid, book_retention) for s, (b, uid) in books.items()}
        self._trades: dict[str, list[Trade]] = {s: [] for s in books}
        self._trade_count = 0
        self.overflowed = False

    def record(self, events: Iterable[ModelEvent]) -> None:
        for ev in events:
            if isinstance(ev, BookUpdate):
                self._books[ev.symbol].record(ev.update_id, self._wire_ts(ev.ts_ns), ev.changes)
            elif self._trade_count < self._trade_cap:
                self._trades[ev.symbol].append(self._to_trade(ev))
                self._trade_count += 1
            else:
                self.overflowed = True

    def symbols(self) -> list[str]:
        return list(self._books)

    def trades(self, symbol: str) -> list[Trade]:
        """Every trade published for `symbol`, in publication order."""
        if self.overflowed:
            raise TruthIncomplete(
                f"{self.venue}: more than {self._trade_cap} trades published; raise truth_trade_cap"
            )
        return list(self._history(self._trades, symbol))

    def book(
        self, symbol: str, *, update_id: int | None = None, ts_event: int | None = None
    ) -> BookState:
        """The book after `update_id`, or after the last update at or before `ts_event`."""
        history = self._history(self._books, symbol)
        if (update_id is None) == (ts_event is None):
            raise TruthUnavailable("give exactly one of update_id or ts_event")
        if update_id is not None:
            book, uid, ts = history.at_update(update_id)
        else:
            book, uid, ts = history.at_ts(ts_event)  # type: ignore[arg-type]
        return BookState(symbol, uid, ts, book.top("bid"), book.top("ask"))

    def _history(self, table: dict[str, T], symbol: str) -> T:
        if symbol not in table:
            raise TruthUnavailable(f"{self.venue}: unknown symbol {symbol!r}; known: {list(table)}")
        return table[symbol]

    def dump(self, path: str | Path) -> int:
        """Append all trades, the latest book and the retained book history per symbol as JSON
        lines (what `mdc verify` checks a store against); returns the count."""
        lines = [to_json(t) for symbol in self._trades for t in self.trades(symbol)]
        for symbol, history in self._books.items():
            book, uid, ts = history.at_ts(2**63)
            state = {"type": "truth_book", "venue": self.venue, "symbol": symbol}
            state |= {"update_id": uid, "ts_event": ts, "bids": book.top("bid")}
            state["asks"] = book.top("ask")
            lines.append(_json_bytes(state))
            record = {"type": "truth_book_history", "venue": self.venue, "symbol": symbol}
            lines.append(_json_bytes(record | history.as_record()))
        with open(path, "ab") as out:
            out.write(b"".join(line + b"\n" for line in lines))
            out.flush()
            os.fsync(out.fileno())
        return len(lines)


def _json_bytes(obj: object) -> bytes:
    return _encoder.encode(obj)
