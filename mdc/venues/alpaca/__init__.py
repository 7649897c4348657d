"""Alpaca market data stream v2 (stocks): trades, quotes, bars; REST trade history by time.

Wire facts (specs/exchanges.md section 4): every frame is a JSON array of objects tagged by `T`
(control messages come alone, data may be batched); prices are JSON numbers, sizes ints, `t` is
RFC 3339 with up to 9 fraction digits. There are no sequence numbers and trade ids are per
exchange (`x`), so loss shows only as a disconnect, and the gap is backfilled by time over REST.
Alpaca has no order book feed.

Split by role: `wire` (payload structs), `parse` (builders to events) and `adapter` (the `Alpaca`
venue class: frame decoding and routing, session rules, REST trade history).
"""

from mdc.venues.alpaca.adapter import DEFAULT_FEED, HISTORY_LIMIT, KEY_ENV, SECRET_ENV, Alpaca
from mdc.venues.alpaca.parse import BAR_SECONDS, NAME, PERMANENT_CODES
from mdc.venues.alpaca.wire import CHANNELS

__all__ = [
    "BAR_SECONDS",
    "CHANNELS",
    "DEFAULT_FEED",
    "HISTORY_LIMIT",
    "KEY_ENV",
    "NAME",
    "PERMANENT_CODES",
    "SECRET_ENV",
    "Alpaca",
]
