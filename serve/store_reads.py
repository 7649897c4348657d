"""The store reads that API calls answer from (gRPC `GetHistoricalBars` and `GetBook`, GraphQL):
each opens the store read-only for that call (no lock: a running writer goes on), on the
caller's thread. One place for the SQL and the book lookup, so both APIs give the same answers."""

from __future__ import annotations

from decimal import Decimal

from mdc.store import Store
from mdc.store.checkpoints import BookAt
from mdc.store.errors import StoreNotFound
from mdc.store.streams import Stream

FAR_FUTURE_NS = 2**62
"""An instant after anything stored: "up to the newest"."""


def select(data_dir: str, sql: str, args: list) -> list[tuple]:
    """One parameterized statement over the store's views (StoreNotFound: no store there)."""
    with Store.open(data_dir, readonly=True) as store:
        con = store.connect()
        try:
            return con.execute(sql, args).fetchall()
        finally:
            con.close()


def venue_filter(venue: str | None) -> str:
    """The WHERE clause of a symbol, and of a venue when one is named (parameters follow)."""
    return "symbol = ?" + (" AND venue = ?" if venue is not None else "")


def bar_rows(
    data_dir: str,
    symbol: str,
    venue: str | None,
    interval_s: int,
    span: tuple[int, int],
    *,
    limit: int | None = None,
) -> list[tuple]:
    """(venue, symbol, start ns, open, high, low, close, volume, trade_count) of the bars made
    from trades with span[0] <= start < span[1], by start then venue."""
    return select(
        data_dir,
        "SELECT venue, symbol, epoch_ns(start), open, high, low, close, volume, trade_count "
        f"FROM bars WHERE {venue_filter(venue)} AND interval_s = ? AND source = 'trades' "
        "AND epoch_ns(start) >= ? AND epoch_ns(start) < ? ORDER BY start, venue"
        + (" LIMIT ?" if limit is not None else ""),
        [symbol, *([venue] if venue else []), interval_s, *span]
        + ([limit] if limit is not None else []),
    )


def book_at(data_dir: str, venue: str, symbol: str, at_ns: int, depth: int | None) -> BookAt:
    """The book at `at_ns` as `mdc book --at` shows it (StoreNotFound: no such book stored)."""
    with Store.open(data_dir, readonly=True) as store:
        if Stream(venue, "book", symbol) not in store.wal.positions():
            raise StoreNotFound(f"no book stored for {venue} {symbol}")
        return store.book_at(venue, symbol, at_ns, depth=depth)


def plain(value: Decimal) -> Decimal:
    """DuckDB's DECIMAL(38, 18) without its padding zeros: 42003.650000000000000000 -> 42003.65,
    as the trades that made it were written."""
    return Decimal(format(value.normalize(), "f"))
