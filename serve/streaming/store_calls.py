"""The calls answered from the store rather than the live log: historical bars and the book at
an instant. Each opens the store read-only in a worker thread (no lock: the writer goes on)."""

from __future__ import annotations

import asyncio
from decimal import Decimal

from mdc.distribution import encode
from mdc.distribution.subscription import BAR_INTERVALS_S, BadSubscription
from mdc.events import Bar
from mdc.store import Store
from mdc.store.errors import StoreNotFound
from mdc.store.streams import Stream
from mdc.v1 import market_data_pb2 as pb

DEFAULT_CHUNK = 1000
MAX_CHUNK = 10_000
_BARS_SQL = """
    SELECT epoch_ns(start), open, high, low, close, volume, trade_count
    FROM bars
    WHERE venue = ? AND symbol = ? AND interval_s = ? AND source = 'trades'
      AND epoch_ns(start) >= ? AND epoch_ns(start) < ?
    ORDER BY start
"""
_FAR_FUTURE_NS = 2**62


class StoreCalls:
    def __init__(self, data_dir: str) -> None:
        self.data_dir = data_dir

    async def bars(self, request: pb.HistoricalBarsRequest) -> list[bytes]:
        """The bars as serialized `EventBatch` chunks (positions are empty: not resumable)."""
        if not request.venue or not request.symbol:
            raise BadSubscription("venue", "name a venue and a symbol")
        if request.interval_s not in BAR_INTERVALS_S:
            raise BadSubscription("interval_s", f"{request.interval_s}: one of {BAR_INTERVALS_S}")
        if request.chunk_size > MAX_CHUNK:
            raise BadSubscription("chunk_size", f"{request.chunk_size}: at most {MAX_CHUNK}")
        end = request.end_ns or _FAR_FUTURE_NS
        if end <= request.start_ns:
            raise BadSubscription("end_ns", "must be after start_ns (or 0: up to the newest)")
        rows = await asyncio.to_thread(self._bar_rows, request, end)
        size = request.chunk_size or DEFAULT_CHUNK
        stream = Stream(request.venue, "trades", request.symbol)
        chunks = []
        for i in range(0, len(rows), size):
            entries = [encode.framed(_bar(request, row), stream, 0) for row in rows[i : i + size]]
            chunks.append(encode.batch_bytes(entries, ""))
        return chunks

    def _bar_rows(self, request: pb.HistoricalBarsRequest, end_ns: int) -> list[tuple]:
        with Store.open(self.data_dir, readonly=True) as store:
            con = store.connect()
            try:
                args = [request.venue, request.symbol, request.interval_s, request.start_ns, end_ns]
                return con.execute(_BARS_SQL, args).fetchall()
            finally:
                con.close()

    async def book(self, request: pb.BookRequest) -> pb.Book:
        if not request.venue or not request.symbol:
            raise BadSubscription("venue", "name a venue and a symbol")
        return await asyncio.to_thread(self._book, request)

    def _book(self, request: pb.BookRequest) -> pb.Book:
        with Store.open(self.data_dir, readonly=True) as store:
            stream = Stream(request.venue, "book", request.symbol)
            if stream not in store.wal.positions():
                raise StoreNotFound(f"no book stored for {request.venue} {request.symbol}")
            at_ns = request.at_ns or _FAR_FUTURE_NS
            book = store.book_at(request.venue, request.symbol, at_ns, depth=request.depth or None)
        return pb.Book(
            venue=request.venue,
            symbol=request.symbol,
            at_ns=request.at_ns,
            bids=[pb.Level(price=str(p), size=str(s)) for p, s in book.bids],
            asks=[pb.Level(price=str(p), size=str(s)) for p, s in book.asks],
            in_sync=book.in_sync,
            last_seq=book.last_seq,
            update_id=book.update_id,
        )


def _bar(request: pb.HistoricalBarsRequest, row: tuple) -> Bar:
    start, *ohlcv, count = row
    return Bar(
        request.venue,
        request.symbol,
        start,
        start,
        *map(_plain, ohlcv),
        request.interval_s,
        count,
    )


def _plain(value: Decimal) -> Decimal:
    """DuckDB's DECIMAL(38, 18) without the padding zeros: 42003.650000000000000000 is sent as
    42003.65, as the trades that made it were."""
    return Decimal(format(value.normalize(), "f"))
