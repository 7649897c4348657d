"""Per-venue wire encoders; `VENUE_CLASSES` is the dispatch table the server uses."""

from __future__ import annotations

from mdc.simulator.encoders.alpaca import AlpacaVenue
from mdc.simulator.encoders.base import Venue
from mdc.simulator.encoders.binance import BinanceVenue
from mdc.simulator.encoders.coinbase import CoinbaseVenue
from mdc.simulator.encoders.kraken import KrakenVenue

VENUE_CLASSES: dict[str, type[Venue]] = {
    "binance": BinanceVenue,
    "coinbase": CoinbaseVenue,
    "kraken": KrakenVenue,
    "alpaca": AlpacaVenue,
}
