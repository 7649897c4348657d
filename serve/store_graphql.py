"""`/graphql`: ad-hoc queries over the event store (strawberry), on the API's ingress.

    query {
      trades(symbol: "AAPL", from: "2026-01-01", to: "2026-01-02") { timestamp price size side }
      quotes(symbol: "AAPL", last: 100) { bidPrice askPrice spread }
    }

Also `bars` and `book` (the book at an instant, as `mdc book --at`). Prices, sizes and spreads
are decimal strings (exact); nanosecond times are `BigInt`, serialized as strings (a JSON number
loses them beyond 2^53); `timestamp` is RFC 3339. Every query reads the store as `mdc query`
does (read-only, events still in the log included), on a worker thread.

Guards: the API key (as every route); depth, token and alias limits; at most `MAX_ROWS` rows per
field. Errors come back in GraphQL's own format: a bad argument names itself, anything unexpected
is masked ("Unexpected error.") and logged. No IDE page (it would load its scripts from a CDN).
"""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Annotated, NewType

import strawberry
from graphql import GraphQLError
from strawberry.extensions import MaskErrors, MaxAliasesLimiter, MaxTokensLimiter, QueryDepthLimiter
from strawberry.fastapi import GraphQLRouter
from strawberry.schema.config import StrawberryConfig

from mdc.distribution.subscription import BAR_INTERVALS_S
from mdc.store.errors import StoreNotFound
from mdc.store.replay import BadArgument, parse_time
from mdc.timefmt import format_rfc3339_ns
from serve.store_reads import FAR_FUTURE_NS, bar_rows, book_at, plain, select, venue_filter

MAX_ROWS = 10_000
MAX_DEPTH = 3
"""The schema's deepest query (book { bids { price } }): deeper ones are refused unread."""
MAX_TOKENS = 2_000
MAX_ALIASES = 16

BigInt = NewType("BigInt", int)
SCALARS = {
    BigInt: strawberry.scalar(
        name="BigInt",
        serialize=str,
        parse_value=int,
        description="An integer of up to 64 bits, as a string (nanoseconds, ids)",
    )
}


class BadQuery(ValueError):
    """An argument the store cannot answer for: its message goes back to the client."""


@strawberry.type
class Trade:
    venue: str
    symbol: str
    timestamp: str
    ts_event: BigInt
    ts_recv: BigInt
    price: str
    size: str
    side: str
    trade_id: BigInt | None


@strawberry.type
class Quote:
    venue: str
    symbol: str
    timestamp: str
    ts_recv: BigInt
    bid_price: str | None
    bid_size: str | None
    ask_price: str | None
    ask_size: str | None

    @strawberry.field(description="ask - bid, exact; null when a side is empty")
    def spread(self) -> str | None:
        if self.bid_price is None or self.ask_price is None:
            return None
        return _plain(Decimal(self.ask_price) - Decimal(self.bid_price))


@strawberry.type
class Bar:
    venue: str
    symbol: str
    start: str
    interval: int
    open: str
    high: str
    low: str
    close: str
    volume: str
    trade_count: int


@strawberry.type
class Level:
    price: str
    size: str


@strawberry.type
class Book:
    venue: str
    symbol: str
    at: str
    in_sync: bool
    bids: list[Level]
    asks: list[Level]


def _plain(value: Decimal | None) -> str | None:
    """A DECIMAL(38, 18) as text without its padding zeros (`store_reads.plain`)."""
    return None if value is None else format(plain(value), "f")


_QUOTE_PRICES = ("bid_price", "bid_size", "ask_price", "ask_size")
_OHLCV = ("open", "high", "low", "close", "volume")


def _levels(levels: list[tuple[Decimal, Decimal]]) -> list[Level]:
    return [Level(price=_plain(p), size=_plain(s)) for p, s in levels]  # type: ignore[arg-type]


def _time(text: str, name: str) -> int:
    try:
        return parse_time(text)
    except BadArgument as exc:
        raise BadQuery(f"{name}: {exc}") from None


def _span(start: str, end: str) -> tuple[int, int]:
    """[from, to) in ns; no `to`: up to the newest."""
    return _time(start, "from"), _time(end, "to") if end else FAR_FUTURE_NS


def _rows(limit: int, name: str = "limit") -> int:
    if not 1 <= limit <= MAX_ROWS:
        raise BadQuery(f"{name}: from 1 to {MAX_ROWS}")
    return limit


class StoreQueries:
    """The reads behind the schema, each a read-only store opened for that query."""

    def __init__(self, data_dir: str) -> None:
        self.data_dir = data_dir

    def _select(self, sql: str, args: list) -> list[tuple]:
        try:
            return select(self.data_dir, sql, args)
        except StoreNotFound as exc:
            raise BadQuery(str(exc)) from None

    def trades(self, symbol: str, venue: str | None, span: tuple[int, int], limit: int) -> list:
        rows = self._select(
            f"SELECT venue, symbol, ts_event, ts_recv, price, size, side, trade_id FROM trades "
            f"WHERE {venue_filter(venue)} AND ts_event >= ? AND ts_event < ? "
            "ORDER BY ts_event, venue, wal_seq LIMIT ?",
            [symbol, *([venue] if venue else []), *span, limit],
        )
        return [
            Trade(
                venue=v,
                symbol=s,
                timestamp=format_rfc3339_ns(te),
                ts_event=te,
                ts_recv=tr,
                price=_plain(p),  # type: ignore[arg-type]
                size=_plain(q),  # type: ignore[arg-type]
                side=side,
                trade_id=tid,
            )
            for v, s, te, tr, p, q, side, tid in rows
        ]

    def quotes(self, symbol: str, venue: str | None, last: int) -> list:
        rows = self._select(
            f"SELECT venue, symbol, ts_recv, bid_price, bid_size, ask_price, ask_size FROM quotes "
            f"WHERE {venue_filter(venue)} ORDER BY ts_recv DESC LIMIT ?",
            [symbol, *([venue] if venue else []), last],
        )
        return [
            Quote(
                venue=v,
                symbol=s,
                timestamp=format_rfc3339_ns(tr),
                ts_recv=tr,
                **dict(zip(_QUOTE_PRICES, map(_plain, prices), strict=True)),
            )
            for v, s, tr, *prices in reversed(rows)
        ]

    def bars(
        self, symbol: str, venue: str | None, interval: int, span: tuple[int, int], limit: int
    ) -> list:
        try:
            rows = bar_rows(self.data_dir, symbol, venue, interval, span, limit=limit)
        except StoreNotFound as exc:
            raise BadQuery(str(exc)) from None
        return [
            Bar(
                venue=v,
                symbol=s,
                start=format_rfc3339_ns(start),
                interval=interval,
                trade_count=count,
                **dict(zip(_OHLCV, map(_plain, ohlcv), strict=True)),
            )
            for v, s, start, *ohlcv, count in rows
        ]

    def book(self, venue: str, symbol: str, at_ns: int, depth: int) -> Book:
        try:
            book = book_at(self.data_dir, venue, symbol, at_ns, depth)
        except StoreNotFound as exc:
            raise BadQuery(str(exc)) from None
        return Book(
            venue=venue,
            symbol=symbol,
            at=format_rfc3339_ns(at_ns),
            in_sync=book.in_sync,
            bids=_levels(book.bids),
            asks=_levels(book.asks),
        )


def schema_over(queries: StoreQueries) -> strawberry.Schema:
    @strawberry.type
    class Query:
        @strawberry.field(description="trades of a symbol with from <= venue time < to")
        async def trades(
            self,
            *,
            symbol: str,
            from_: Annotated[str, strawberry.argument(name="from")],
            to: str = "",
            venue: str | None = None,
            limit: int = 1000,
        ) -> list[Trade]:
            span = _span(from_, to)
            return await asyncio.to_thread(queries.trades, symbol, venue, span, _rows(limit))

        @strawberry.field(description="the last `last` quotes of a symbol, oldest first")
        async def quotes(
            self, symbol: str, last: int = 100, venue: str | None = None
        ) -> list[Quote]:
            return await asyncio.to_thread(queries.quotes, symbol, venue, _rows(last, "last"))

        @strawberry.field(description="OHLCV bars from the trades, by bar start")
        async def bars(
            self,
            *,
            symbol: str,
            from_: Annotated[str, strawberry.argument(name="from")],
            to: str = "",
            interval: int = 60,
            venue: str | None = None,
            limit: int = 1000,
        ) -> list[Bar]:
            if interval not in BAR_INTERVALS_S:
                raise BadQuery(f"interval: one of {BAR_INTERVALS_S} seconds")
            span = _span(from_, to)
            return await asyncio.to_thread(
                queries.bars, symbol, venue, interval, span, _rows(limit)
            )

        @strawberry.field(description="the book at an instant (receive time), as mdc book --at")
        async def book(self, venue: str, symbol: str, at: str = "", depth: int = 10) -> Book:
            if not 1 <= depth <= 1000:
                raise BadQuery("depth: from 1 to 1000")
            at_ns = _time(at, "at") if at else FAR_FUTURE_NS
            return await asyncio.to_thread(queries.book, venue, symbol, at_ns, depth)

    return strawberry.Schema(
        query=Query,
        config=StrawberryConfig(scalar_map=SCALARS),
        extensions=[  # factories: a fresh extension per request
            lambda: QueryDepthLimiter(max_depth=MAX_DEPTH),
            lambda: MaxTokensLimiter(max_token_count=MAX_TOKENS),
            lambda: MaxAliasesLimiter(max_alias_count=MAX_ALIASES),
            lambda: MaskErrors(should_mask_error=_masked),
        ],
    )


def _masked(error: GraphQLError) -> bool:
    """Bad arguments and invalid queries explain themselves; anything else is a bug: masked."""
    return error.original_error is not None and not isinstance(error.original_error, BadQuery)


def graphql_router(data_dir: str | None) -> GraphQLRouter | None:
    """The router to mount at /graphql, or None without a store."""
    if data_dir is None:
        return None
    return GraphQLRouter(schema_over(StoreQueries(data_dir)), graphql_ide=None)
