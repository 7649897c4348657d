"""The Coinbase venue: routing of messages to their decoder and builder, and the per-connection
state (the AT connection sequence, products waiting for a fresh snapshot) with the session rules
(subscribe frames, resubscribe for a snapshot); builders in coinbase.parse, REST in coinbase.rest.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from decimal import InvalidOperation

import msgspec

from mdc.events import BookDelta
from mdc.sync import NeedSnapshot, TrustingRules
from mdc.venues import storable
from mdc.venues.base import (
    ConnectionSequence,
    Dropped,
    Heartbeat,
    Outgoing,
    SendText,
    SessionConfig,
    Venue,
)  # fmt: skip
from mdc.venues.coinbase.parse import NAME, CoinbaseBuilders, Items, _Malformed, _Timestamps
from mdc.venues.coinbase.rest import CoinbaseRest
from mdc.venues.coinbase.wire import (
    AtBare,
    AtBook,
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
from mdc.venues.contract import Capabilities
from mdc.venues.decimals import DecimalTexts, TextDecoder

EXCHANGE_FEED = "exchange"
"""`SessionConfig.feed` value selecting the Exchange ws-feed; anything else means Advanced Trade."""
EXCHANGE_CHANNELS = ("level2", "matches", "ticker", "heartbeat")


class Coinbase(CoinbaseBuilders, CoinbaseRest, Venue):
    name = NAME
    display_name = "Coinbase"
    # level2 has no update ids or checksum: a book loss shows in the connection's sequence_num
    # (TrustingRules + ConnectionSequence); REST history pages by trade id (`after`). No bars.
    capabilities = Capabilities(
        streams=("trades", "quotes", "book"),
        book_integrity="sequence",
        backfill="id",
        auth=False,
    )
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


def _late(sequence: int, last: int) -> str:
    return (
        f"l2_data sequence_num {sequence} at or below the last one ({last}): a late or repeated "
        "book message, older than the book, is not applied"
    )


def _subscribe(
    kind: str, products: list[str], channels: Iterable[str], feed: str | None
) -> list[str]:
    """Exchange takes every channel in one frame; Advanced Trade one channel per frame."""
    if feed == EXCHANGE_FEED:
        return [_json({"type": kind, "product_ids": products, "channels": list(channels)})]
    return [_json({"type": kind, "product_ids": products, "channel": c}) for c in channels]


def _json(message: dict) -> str:
    return msgspec.json.encode(message).decode()
