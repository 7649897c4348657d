"""The Example Exchange venue: routing of messages to their builder, and the session rules.

What the collector needs from a venue, and nothing else: `decode` (bytes in, events out), the
subscribe frame, the book rules, and the REST requests for a book snapshot and a trade backfill
with their decoders. `mdc.venues.base.Session` runs the connection's state machine on top of
it, and the collector's shell does the I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import msgspec

from mdc.events import BookSnapshot
from mdc.sync import FetchTrades, NeedSnapshot, SequenceRules
from mdc.venues.base import Dropped, HttpGet, Outgoing, SessionConfig, TradeBatch, Venue
from mdc.venues.contract import Capabilities

from . import rest
from .parse import BUILDERS, Items
from .wire import CHANNELS, KNOWN_TYPES, NAME, WS_PATH, Envelope, WireMessage


class ExampleVenue(Venue):
    """Trades with consecutive ids (backfilled by id) and a book numbered by `seq`."""

    name = NAME
    display_name = "Example Exchange (template)"
    # `seq` is on every book event and names the book's state, as Binance's U/u do: that is
    # "update_ids" ("sequence" means a per-connection message counter, as Coinbase's).
    capabilities = Capabilities(
        streams=("trades", "book"), book_integrity="update_ids", backfill="id", auth=False
    )
    default_ws_url = "wss://ws.example.invalid"
    default_rest_url = "https://api.example.invalid"
    default_channels = CHANNELS
    consecutive_trade_ids = True
    """Trade ids count up by one per symbol: the Session finds every lost trade by its id."""

    def __init__(self) -> None:
        self._messages = msgspec.json.Decoder(WireMessage)
        self._envelope = msgspec.json.Decoder(Envelope)

    # -- websocket ------------------------------------------------------------------------------

    def decode(self, data: bytes, ts_recv: int) -> Items:
        """One message's events and controls; raises MalformedMessage (`Venue.read` wraps this
        with the checks every venue shares: call `read`, never `decode`)."""
        try:
            message = self._messages.decode(data)
        except msgspec.ValidationError as exc:
            return self._not_known(data, exc)
        except msgspec.DecodeError as exc:
            raise self.malformed(str(exc), data) from exc
        return BUILDERS[type(message)](message, ts_recv)

    def _not_known(self, data: bytes, exc: msgspec.ValidationError) -> Items:
        """A `type` this version does not know is the venue's later addition: left out, and
        reported (never silently); a known type with bad fields is malformed."""
        try:
            kind = self._envelope.decode(data).type
        except msgspec.DecodeError:
            kind = None
        if kind is None or kind in KNOWN_TYPES:
            raise self.malformed(str(exc), data) from exc
        return [Dropped(f"message type {kind!r} is not one this version reads")]

    # -- session --------------------------------------------------------------------------------

    def ws_path(self, config: SessionConfig) -> str:
        return WS_PATH

    def on_open_messages(self, config: SessionConfig) -> list[str]:
        """One subscribe frame for every symbol and channel of the connection."""
        channels = list(config.channels or self.default_channels)
        frame = {"op": "subscribe", "symbols": list(config.symbols), "channels": channels}
        return [msgspec.json.encode(frame).decode()]

    def book_rules(self, config: SessionConfig) -> SequenceRules:
        """`seq` numbers every change: a delta applies when it is the book's `seq` + 1, is stale
        at or below it, and a jump past it is a gap (resynced from a REST snapshot)."""
        return SequenceRules()

    def snapshot_request(self, need: NeedSnapshot, config: SessionConfig) -> list[Outgoing]:
        return [rest.depth_request(need)]

    def decode_snapshot(self, request: HttpGet, body: bytes, ts_recv: int) -> BookSnapshot:
        try:
            return rest.decode_depth(request, body, ts_recv)
        except msgspec.DecodeError as exc:
            raise self.malformed(f"depth: {exc}", body) from exc

    def trades_request(self, fetch: FetchTrades, config: SessionConfig) -> HttpGet | None:
        return rest.trades_request(fetch)

    def decode_trades(self, request: HttpGet, body: bytes, ts_recv: int) -> TradeBatch:
        try:
            return rest.decode_trades(request, body, ts_recv)
        except msgspec.DecodeError as exc:
            raise self.malformed(f"trades: {exc}", body) from exc

    # -- configuration --------------------------------------------------------------------------

    @classmethod
    def extra_config_problems(cls, table: Mapping[str, Any]) -> list[str]:
        """What this venue cannot do with its `[venues.example]` table, one line each (mdc runs
        its shared checks first and names the table before each line)."""
        problems = []
        if "depth" in table:
            problems.append("depth is not offered: the venue always sends the whole book")
        channels = table.get("channels", ())
        if isinstance(channels, list | tuple):
            unknown = [c for c in channels if c not in CHANNELS]
            if unknown:
                problems.append(f"channels {unknown} unknown; valid: {list(CHANNELS)}")
        symbols = table.get("symbols", ())
        if isinstance(symbols, list | tuple):
            odd = [s for s in symbols if not _base_quote(s)]
            if odd:
                problems.append(f"symbols {odd} are not spelled BASE-QUOTE, as in 'BTC-USD'")
        return problems


def _base_quote(symbol: object) -> bool:
    parts = symbol.split("-") if isinstance(symbol, str) else []
    return len(parts) == 2 and all(p.isalnum() and p.isupper() for p in parts)
