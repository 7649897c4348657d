"""Kraken spot: WebSocket v2 (primary) and v1 array messages, REST trade history and depth.

Wire facts (specs/exchanges.md section 3): v2 sends prices and sizes as JSON numbers whose text
keeps every digit, v1 as strings; there are no book sequence numbers, only a CRC32 checksum of the
top 10 levels per side after every message, computed from the digits as sent (Decimal keeps them).
Kraken stops reporting levels pushed out of the subscribed depth, so the book is truncated to it.

Split by role: `wire` (payload structs), `parse` (builders to events), `rest` (REST requests
and replies), `book_checksum` (the CRC32) and `adapter` (the `Kraken` venue class: routing and
session rules).
"""

from mdc.venues.kraken.adapter import DEFAULT_DEPTH, DEPTHS, Kraken, checksum, v2_pair
from mdc.venues.kraken.parse import LEGACY_ASSETS, NAME, V1_ORDER_TYPES, V1_SIDES
from mdc.venues.kraken.rest import COMMON_ASSETS, REST_PAGE, rest_pair

__all__ = [
    "COMMON_ASSETS",
    "DEFAULT_DEPTH",
    "DEPTHS",
    "LEGACY_ASSETS",
    "NAME",
    "REST_PAGE",
    "V1_ORDER_TYPES",
    "V1_SIDES",
    "Kraken",
    "checksum",
    "rest_pair",
    "v2_pair",
]
