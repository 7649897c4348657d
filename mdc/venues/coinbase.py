"""Coinbase: Exchange ws-feed and Advanced Trade websocket messages, Exchange REST book and trades.

Wire facts (specs/exchanges.md section 2). Both message families decode here, routed by a peek at
the first key: Exchange messages start `{"type":"<kind>"`, Advanced Trade (AT) ones
`{"channel":"<name>"`; anything else takes a slower general path. Prices and sizes are JSON strings,
times RFC 3339. Exchange messages carry a per-product `sequence` that counts every message of the
product's full feed (so a channel sees jumps that are no loss; it names a ticker's update) and
consecutive per-product trade ids; AT messages carry a per-connection `sequence_num`, the only loss
signal for its books.

A sequence anomaly never drops a trade: trades carry their own ids, which the Session (and the
store's dedup) follow. Only book data of a late or repeated AT message is left out, reported as
`Dropped`: it is older than the book it would be applied to.

This object keeps small per-connection state (the AT sequence, products waiting for a fresh
snapshot), reset by `on_open_messages`: use one instance per connection. It is `kept`: a refused
message leaves no trace in it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from decimal import Decimal, InvalidOperation

import msgspec

from mdc.events import BookDelta, BookSnapshot, Event, Level, Quote, Side, Trade
from mdc.sync import FetchTrades, NeedSnapshot, TrustingRules
from mdc.timefmt import BadTimestamp, parse_rfc3339_ns
from mdc.venues import storable
from mdc.venues.base import (
    ConnectionSequence,
    Control,
    Dropped,
    Heartbeat,
    HttpGet,
    Outgoing,
    SendText,
    SessionConfig,
    Subscribed,
    TradeBatch,
    Venue,
    VenueError,
)  # fmt: skip
from mdc.venues.coinbase_wire import (
    AtBare,
    AtBook,
    AtLevel,
    AtSubscriptions,
    AtTickers,
    AtTrades,
    Envelope,
    Error,
    ExHeartbeat,
    ExSubscriptions,
    L2Update,
    Match,
    RestBook,
    RestTrade,
    Snapshot,
    Ticker,
)
from mdc.venues.decimals import DecimalTexts, TextDecoder

NAME = "coinbase"
HISTORY_LIMIT = 100
EXCHANGE_FEED = "exchange"
"""`SessionConfig.feed` value selecting the Exchange ws-feed; anything else means Advanced Trade."""
EXCHANGE_CHANNELS = ("level2", "matches", "ticker", "heartbeat")
Items = list[Event | Control]

_OPPOSITE: dict[str, Side] = {"buy": "sell", "sell": "buy"}
_TAKER: dict[str, Side] = {"BUY": "buy", "SELL": "sell"}
_FRACTION_SCALE = [10 ** (9 - digits) for digits in range(10)]


class _Malformed(ValueError):
    """A field that decoded but does not hold what the venue documents (raised inside builders)."""


class _Timestamps:
    """RFC 3339 'YYYY-MM-DDTHH:MM:SS[.f]Z' -> ns, with the whole seconds cached per second: the
    full parse costs more than decoding the rest of a small message. Use the bound `parse` (a
    bound method is a cheaper call than an instance's `__call__`)."""

    def __init__(self, size: int = 4096) -> None:
        self._seconds: dict[str, int] = {}
        """'YYYY-MM-DDTHH:MM:SS.' (the dot included, so a hit means a fraction follows) -> ns"""
        self._size = size

    def parse(self, text: str) -> int:
        whole = self._seconds.get(text[:20])
        if whole is not None and text[-1] == "Z":
            frac = text[20:-1]
            if frac.isdigit() and len(frac) <= 9:
                return whole + int(frac) * _FRACTION_SCALE[len(frac)]
        return self._parse(text)

    def _parse(self, text: str) -> int:
        """The first time of a second, and every other shape (or the error for bad ones)."""
        frac = text[20:-1]
        if text[19:20] == "." and text[-1:] == "Z" and 0 < len(frac) <= 9 and frac.isdigit():
            return self._whole(text[:20]) + int(frac) * _FRACTION_SCALE[len(frac)]
        try:
            return parse_rfc3339_ns(text)
        except BadTimestamp as exc:
            raise _Malformed(str(exc)) from exc

    def _whole(self, head: str) -> int:
        try:
            known = parse_rfc3339_ns(head[:19] + "Z")
        except BadTimestamp as exc:
            raise _Malformed(str(exc)) from exc
        if len(self._seconds) >= self._size:
            self._seconds.clear()
        self._seconds[head] = known
        return known


def _digits(text: str | int, what: str) -> int:
    """AT (and recent Exchange REST) send trade ids as digit strings."""
    if isinstance(text, int):
        return text
    if not (text.isascii() and text.isdigit()):
        raise _Malformed(f"{what} is not a decimal integer: {text!r}")
    return int(text)


def _by_id(trade: Trade) -> int:
    return trade.trade_id or 0


def _split(
    levels: Iterable[tuple[str, str, Decimal]], dec: DecimalTexts
) -> tuple[tuple[Level, ...], ...]:
    """Exchange (side, price, size) rows -> (bids, asks)."""
    bids: list[Level] = []
    asks: list[Level] = []
    for side, price, size in levels:
        (bids if side == "buy" else asks).append((dec[price], size))
    return tuple(bids), tuple(asks)


def _split_at(levels: Iterable[AtLevel], dec: DecimalTexts) -> tuple[tuple[Level, ...], ...]:
    """Advanced Trade levels -> (bids, asks)."""
    bids: list[Level] = []
    asks: list[Level] = []
    for level in levels:
        (bids if level.side == "bid" else asks).append((dec[level.price_level], level.new_quantity))
    return tuple(bids), tuple(asks)


class Coinbase(Venue):
    name = NAME
    default_ws_url = "wss://advanced-trade-ws.coinbase.com"
    default_rest_url = "https://api.exchange.coinbase.com"
    default_channels = ("level2", "market_trades", "heartbeats")
    consecutive_trade_ids = True
    kept = ("_connection_seq", "_stale", "_fresh")

    def __init__(self) -> None:
        def route(struct: type, build: Callable) -> tuple[TextDecoder, Callable]:
            return TextDecoder(struct), build

        self._types: dict[bytes, tuple[msgspec.json.Decoder, Callable]] = {
            b"match": route(Match, self._match),
            b"last_match": route(Match, self._match),
            b"ticker": route(Ticker, self._ticker),
            b"snapshot": route(Snapshot, self._snapshot),
            b"l2update": route(L2Update, self._l2update),
            b"heartbeat": route(ExHeartbeat, self._heartbeat),
            b"subscriptions": route(ExSubscriptions, self._subscriptions),
            b"error": route(Error, self._error),
        }
        self._channels: dict[bytes, tuple[msgspec.json.Decoder, Callable]] = {
            b"l2_data": route(AtBook, self._at(self._at_book, book=True)),
            b"market_trades": route(AtTrades, self._at(self._at_trades)),
            b"ticker": route(AtTickers, self._at(self._at_tickers)),
            b"ticker_batch": route(AtTickers, self._at(self._at_tickers)),
            b"heartbeats": route(AtBare, self._at(lambda m, t, out: out.append(Heartbeat()))),
            b"subscriptions": route(AtSubscriptions, self._at(self._at_subscriptions)),
        }
        # Other channels (product `status`, ...) carry nothing for the market streams, but their
        # sequence_num counts: skipping it would look like a lost message.
        self._other_channel = route(AtBare, self._at(lambda m, t, out: None))
        self._envelope = msgspec.json.Decoder(Envelope)
        self._ns = _Timestamps().parse
        self._dec = DecimalTexts()
        self._rest_trades = msgspec.json.Decoder(list[RestTrade])
        self._rest_book = msgspec.json.Decoder(RestBook)
        self._reset()

    def _reset(self) -> None:
        self._connection_seq: int | None = None
        self._stale: frozenset[str] = frozenset()
        self._fresh: frozenset[str] | None = None

    # -- websocket ---------------------------------------------------------------------------

    def decode(self, data: bytes, ts_recv: int) -> Items:
        # The typed decoder named by the first key's value, peeked at without parsing.
        if data.startswith(b'{"channel":"'):
            route = self._channels.get(data[12 : data.find(b'"', 12)], self._other_channel)
        elif data.startswith(b'{"type":"'):
            route = self._types.get(data[9 : data.find(b'"', 9)])
        else:
            route = None
        try:
            if route is None:
                route = self._route(self._envelope.decode(data))
                if route is None:
                    return []
            decoder, build = route
            try:
                message = decoder.fast(data)
            except msgspec.ValidationError:  # e.g. a number for a price: the strict schema
                message = decoder.strict(data)
            try:
                return build(message, ts_recv)
            except InvalidOperation:  # a bad price text: the strict decoder names it
                return build(decoder.strict(data), ts_recv)
        except (msgspec.DecodeError, _Malformed) as exc:
            raise self.malformed(str(exc), data) from exc

    def _route(self, env: Envelope) -> tuple[TextDecoder, Callable] | None:
        """General path: unknown types are ignorable (None); no routing key at all is malformed."""
        if env.type is not None:
            return self._types.get(env.type.encode())
        if env.channel is not None:
            return self._channels.get(env.channel.encode(), self._other_channel)
        raise _Malformed("neither `type` nor `channel`")

    def _match(self, m: Match, ts_recv: int) -> Items:
        """Whatever its `sequence` (a late or repeated one too): the trade id tells repeats."""
        price = self._dec[m.price]
        # `side` is the maker order's side; the aggressor took the other side.
        side = _OPPOSITE[m.side]
        return [
            Trade(NAME, m.product_id, self._ns(m.time), ts_recv, price, m.size, side, m.trade_id)
        ]

    def _ticker(self, m: Ticker, ts_recv: int) -> Items:
        """Top of book only: the match with the same sequence carries the trade. A late one is
        still what the venue said at its time (its sequence is its update id)."""
        ts_event = self._ns(m.time) if m.time else ts_recv
        return [Quote(NAME, m.product_id, ts_event, ts_recv, m.best_bid, m.best_bid_size,
                      m.best_ask, m.best_ask_size, update_id=m.sequence)]  # fmt: skip

    def _snapshot(self, m: Snapshot, ts_recv: int) -> Items:
        dec = self._dec
        bids = tuple([(dec[price], size) for price, size in m.bids])
        asks = tuple([(dec[price], size) for price, size in m.asks])
        self._synced(m.product_id)
        ts_event = self._ns(m.time) if m.time else ts_recv
        return [BookSnapshot(NAME, m.product_id, ts_event, ts_recv, bids, asks)]

    def _l2update(self, m: L2Update, ts_recv: int) -> Items:
        bids, asks = _split(m.changes, self._dec)
        return self._unless_stale(
            BookDelta(NAME, m.product_id, self._ns(m.time), ts_recv, bids, asks)
        )

    def _unless_stale(self, delta: BookDelta) -> Items:
        """`delta`; while its book waits for a fresh snapshot (`_is_stale`), the same without
        levels, and the levels left out reported Dropped. Checked first, so a malformed update
        is refused whatever the book's state."""
        if not (delta.bids or delta.asks) or not self._is_stale(delta.symbol):
            return [delta]
        problem = storable.problem([delta])
        if problem is not None:
            raise _Malformed(problem)
        left_out = (
            f"{delta.symbol}: {len(delta.bids) + len(delta.asks)} level(s) of an update older "
            "than the fresh snapshot asked for are not applied"
        )
        return [msgspec.structs.replace(delta, bids=(), asks=()), Dropped(left_out)]

    def _is_stale(self, product: str) -> bool:
        """Whether the product's book is known invalid until its next snapshot.

        The Session buffers deltas of an invalid book and replays them onto the next snapshot,
        which suits a REST snapshot but not a resubscribe: everything before the in-stream
        snapshot is older than it, and replaying older absolute sizes would undo newer changes.
        Such updates therefore come out with no levels: the Session still learns of the book
        (and asks for a snapshot if it had none), and replaying them changes nothing.
        """
        return product in self._stale or (self._fresh is not None and product not in self._fresh)

    def _synced(self, product: str) -> None:
        if product in self._stale:
            self._stale = self._stale - {product}
        if self._fresh is not None and product not in self._fresh:
            self._fresh = self._fresh | {product}

    def _heartbeat(self, m: ExHeartbeat, ts_recv: int) -> Items:
        """A late one names an older last trade id, which asks for nothing."""
        return [Heartbeat(m.product_id, m.last_trade_id)]

    def _subscriptions(self, m: ExSubscriptions, ts_recv: int) -> Items:
        names = ",".join(f"{c.name}:{'|'.join(c.product_ids or ())}" for c in m.channels)
        return [Subscribed(names)]

    def _error(self, m: Error, ts_recv: int) -> Items:
        text = f"{m.message}: {m.reason}" if m.reason else m.message
        # Authentication failures repeat on every retry; other errors (a bad product) are per
        # subscription and the connection stays usable.
        return [VenueError(None, text, permanent="auth" in text.lower())]

    def _at(self, build: Callable[..., None], *, book: bool = False) -> Callable[..., Items]:
        """An AT builder behind the per-connection counter: its ConnectionSequence comes first,
        so the Session sees a loss before the events that follow it. A late or repeated message
        (number at or below the last one seen) still gives its trades and tickers; a `book` one
        is reported Dropped instead: it is older than the book. The builder gets the list and
        appends its items to it (no second list to merge)."""

        def run(m: AtBare, ts_recv: int) -> Items:  # type: ignore[valid-type]
            last, fresh = self._connection_seq, self._fresh
            out: Items = [ConnectionSequence(m.sequence_num)]
            if last is not None and m.sequence_num <= last:
                if book:
                    out.append(Dropped(_late(m.sequence_num, last)))
                    return out
            else:
                if last is not None and m.sequence_num > last + 1:
                    self._fresh = frozenset()  # the Session invalidates every book on this gap
                self._connection_seq = m.sequence_num
            try:
                build(m, ts_recv, out)
            except InvalidOperation:  # a bad price: the message is malformed, as if never seen
                self._connection_seq, self._fresh = last, fresh
                raise
            return out

        return run

    def _at_book(self, m: AtBook, ts_recv: int, out: Items) -> None:  # type: ignore[valid-type]
        dec = self._dec
        # Every price first: a bad one must leave no trace of the message (see `_at`).
        books = [(event, *_split_at(event.updates, dec)) for event in m.events]
        for event, bids, asks in books:
            product = event.product_id
            if event.type == "snapshot":
                self._synced(product)
                out.append(BookSnapshot(NAME, product, self._ns(m.timestamp), ts_recv, bids, asks))
            else:
                last = event.updates[-1].event_time if event.updates else None
                ts_event = self._ns(last or m.timestamp)
                out += self._unless_stale(BookDelta(NAME, product, ts_event, ts_recv, bids, asks))

    def _at_trades(self, m: AtTrades, ts_recv: int, out: Items) -> None:  # type: ignore[valid-type]
        dec, ns = self._dec, self._ns
        for event in m.events:
            # `side` read as the taker's (aggressor's) side: the spec leaves it unverified and the
            # simulator emits the taker side. Sorted by id: snapshots list the newest first.
            trades = [
                Trade(NAME, t.product_id, ns(t.time), ts_recv, dec[t.price], t.size,
                      _TAKER[t.side], _digits(t.trade_id, "trade_id"))
                for t in event.trades
            ]  # fmt: skip
            if len(trades) > 1:
                trades.sort(key=_by_id)
            out.extend(trades)

    def _at_tickers(self, m: AtTickers, ts_recv: int, out: Items) -> None:  # type: ignore[valid-type]
        ts_event = self._ns(m.timestamp)
        out.extend(
            Quote(NAME, t.product_id, ts_event, ts_recv, t.best_bid, t.best_bid_quantity,
                  t.best_ask, t.best_ask_quantity)
            for event in m.events for t in event.tickers
        )  # fmt: skip

    def _at_subscriptions(self, m: AtSubscriptions, ts_recv: int, out: Items) -> None:  # type: ignore[valid-type]
        out.extend(
            Subscribed(",".join(f"{name}:{'|'.join(ids)}" for name, ids in e.subscriptions.items()))
            for e in m.events
        )

    # -- session ---------------------------------------------------------------------------

    def on_open_messages(self, config: SessionConfig) -> list[str]:
        """Subscribe frames for a new connection, which starts every sequence afresh."""
        self._reset()
        default = EXCHANGE_CHANNELS if config.feed == EXCHANGE_FEED else self.default_channels
        return _subscribe(
            "subscribe", list(config.symbols), config.channels or default, config.feed
        )

    def book_rules(self, config: SessionConfig) -> TrustingRules:
        """level2 has no update ids or checksum; AT loss shows in the connection sequence."""
        return TrustingRules()

    def snapshot_request(self, need: NeedSnapshot, config: SessionConfig) -> list[Outgoing]:
        """Resubscribe the product's level2 channel: the first message is a fresh snapshot.

        Updates still in flight from the old subscription are emptied until it arrives
        (see `_is_stale`).
        """
        self._stale = self._stale | {need.symbol}
        level2 = next((c for c in config.channels if c.startswith("level2")), "level2")
        return [
            SendText(text)
            for kind in ("unsubscribe", "subscribe")
            for text in _subscribe(kind, [need.symbol], (level2,), config.feed)
        ]

    def decode_snapshot(self, request: HttpGet, body: bytes, ts_recv: int) -> BookSnapshot:
        """`GET /products/{id}/book?level=2`: [price, size, num_orders] rows and a `sequence`."""
        try:
            m = self._rest_book.decode(body)
            ts_event = self._ns(m.time) if m.time else ts_recv
        except (msgspec.DecodeError, _Malformed) as exc:
            raise self.malformed(f"book snapshot: {exc}", body) from exc
        bids = tuple((price, size) for price, size, _ in m.bids)
        asks = tuple((price, size) for price, size, _ in m.asks)
        return BookSnapshot(
            NAME, request.symbol, ts_event, ts_recv, bids, asks, update_id=m.sequence
        )

    def trades_request(self, fetch: FetchTrades, config: SessionConfig) -> HttpGet | None:
        """`GET /products/{id}/trades?after=<to_id+1>`: the page of trades just below the cursor."""
        if fetch.from_id is None:
            return None
        after = None if fetch.to_id is None else fetch.to_id + 1
        return _trades_page(fetch, after)

    def decode_trades(self, request: HttpGet, body: bytes, ts_recv: int) -> TradeBatch:
        try:
            rows = self._rest_trades.decode(body)
            # REST `side` is the maker's side, as on the feed: the aggressor took the other one.
            trades = [
                Trade(NAME, request.symbol, self._ns(r.time), ts_recv, r.price, r.size,
                      _OPPOSITE[r.side], _digits(r.trade_id, "trade_id"))
                for r in rows
            ]  # fmt: skip
        except (msgspec.DecodeError, _Malformed) as exc:
            raise self.malformed(f"trades: {exc}", body) from exc
        trades.sort(key=_by_id)
        fetch = request.backfill
        if fetch is None:
            return TradeBatch(trades)
        low, high = fetch.from_id or 0, fetch.to_id
        wanted = [t for t in trades if low <= _by_id(t) and (high is None or _by_id(t) <= high)]
        more = len(rows) >= HISTORY_LIMIT and _by_id(trades[0]) > low
        return TradeBatch(wanted, _trades_page(fetch, _by_id(trades[0])) if more else None)


def _late(sequence: int, last: int) -> str:
    return (
        f"l2_data sequence_num {sequence} at or below the last one ({last}): a late or repeated "
        "book message, older than the book, is not applied"
    )


def _trades_page(fetch: FetchTrades, after: int | None) -> HttpGet:
    params = (("limit", str(HISTORY_LIMIT)),) if after is None else (
        ("after", str(after)), ("limit", str(HISTORY_LIMIT)))  # fmt: skip
    return HttpGet("trades", fetch.symbol, f"/products/{fetch.symbol}/trades", params,
                   backfill=fetch)  # fmt: skip


def _subscribe(
    kind: str, products: list[str], channels: Iterable[str], feed: str | None
) -> list[str]:
    """Exchange takes every channel in one frame; Advanced Trade one channel per frame."""
    if feed == EXCHANGE_FEED:
        return [_json({"type": kind, "product_ids": products, "channels": list(channels)})]
    return [_json({"type": kind, "product_ids": products, "channel": c}) for c in channels]


def _json(message: dict) -> str:
    return msgspec.json.encode(message).decode()
