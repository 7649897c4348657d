"""Binance spot: trade, aggTrade, bookTicker and diff-depth streams, REST depth and trade history.

Wire facts (specs/exchanges.md section 1): prices and quantities are JSON strings; times are ms;
combined-stream frames wrap the payload as {"stream", "data"}; `m` means the buyer was the maker,
so the aggressor sold; diff-depth `U`/`u` are the first/last update ids, and the documented
snapshot procedure is the SequenceRules straddle rule.

Split by role: `wire` (payload structs), `parse` (builders to events), `rest` (REST requests
and replies) and `adapter` (the `Binance` venue class: routing and session rules).
"""

from mdc.venues.binance.adapter import Binance
from mdc.venues.binance.parse import KLINE_SECONDS, MS, NAME, QUOTE_ASSETS, wire_symbol
from mdc.venues.binance.rest import HISTORY_LIMIT

__all__ = [
    "HISTORY_LIMIT",
    "KLINE_SECONDS",
    "MS",
    "NAME",
    "QUOTE_ASSETS",
    "Binance",
    "wire_symbol",
]
