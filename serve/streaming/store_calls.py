"""The calls answered from the store rather than the live log: historical bars and the book at
an instant, read by `serve.store_reads` (as GraphQL's) in a worker thread."""

from __future__ import annotations

import asyncio

from mdc.distribution import encode
from mdc.distribution.subscription import BAR_INTERVALS_S, BadSubscription
from mdc.events import Bar
from mdc.store.streams import Stream
from mdc.v1 import market_data_pb2 as pb
from serve.store_reads import FAR_FUTURE_NS, bar_rows, book_at, plain

DEFAULT_CHUNK = 1000
MAX_CHUNK = 10_000


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
        end = request.end_ns or FAR_FUTURE_NS
        if end <= request.start_ns:
            raise BadSubscription("end_ns", "must be after start_ns (or 0: up to the newest)")
        span = (request.start_ns, end)
        rows = await asyncio.to_thread(
            bar_rows, self.data_dir, request.symbol, request.venue, request.interval_s, span
        )
        size = request.chunk_size or DEFAULT_CHUNK
        stream = Stream(request.venue, "trades", request.symbol)
        chunks = []
        for i in range(0, len(rows), size):
            entries = [encode.framed(_bar(request, row), stream, 0) for row in rows[i : i + size]]
            chunks.append(encode.batch_bytes(entries, ""))
        return chunks

    async def book(self, request: pb.BookRequest) -> pb.Book:
        if not request.venue or not request.symbol:
            raise BadSubscription("venue", "name a venue and a symbol")
        return await asyncio.to_thread(self._book, request)

    def _book(self, request: pb.BookRequest) -> pb.Book:
        at_ns = request.at_ns or FAR_FUTURE_NS
        depth = request.depth or None
        book = book_at(self.data_dir, request.venue, request.symbol, at_ns, depth)
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
    _venue, _symbol, start, *ohlcv, count = row
    return Bar(
        request.venue,
        request.symbol,
        start,
        start,
        *map(plain, ohlcv),
        request.interval_s,
        count,
    )
