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

The venue object keeps small per-connection state (the AT sequence, products waiting for a fresh
snapshot), reset by `on_open_messages`: use one instance per connection. It is `kept`: a refused
message leaves no trace in it.

Split by role: `wire` (payload structs), `parse` (builders to events), `rest` (REST requests
and replies) and `adapter` (the `Coinbase` venue class: routing, connection state, session rules).
"""

from mdc.venues.coinbase.adapter import EXCHANGE_CHANNELS, EXCHANGE_FEED, Coinbase
from mdc.venues.coinbase.parse import NAME, Items
from mdc.venues.coinbase.rest import HISTORY_LIMIT

__all__ = ["EXCHANGE_CHANNELS", "EXCHANGE_FEED", "HISTORY_LIMIT", "NAME", "Coinbase", "Items"]
