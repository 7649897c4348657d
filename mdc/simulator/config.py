"""Simulator settings (one frozen object) and the default instruments of the built-in venues.

Which venues can be served is not listed here: every encoder registered in the
`mdc.simulator_venues` entry-point group can (see mdc.simulator.registry); each encoder class
names its own default instruments.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from mdc.simulator.model import SimulatorConfigError, SymbolSpec
from mdc.simulator.registry import (
    UnknownSimulatorVenue,
    simulator_venue_class,
    simulator_venue_names,
)

VENUES = ("binance", "coinbase", "kraken", "alpaca")
"""The built-in venues: the ones served when none are named."""

_D = Decimal
INSTRUMENTS: dict[str, dict[str, SymbolSpec]] = {
    "binance": {
        "BTC-USDT": SymbolSpec("BTC-USDT", _D("37000.00"), _D("0.01"), _D("0.00001"), 5000),
        "ETH-USDT": SymbolSpec("ETH-USDT", _D("2000.00"), _D("0.01"), _D("0.0001"), 5000),
    },
    "coinbase": {
        "BTC-USD": SymbolSpec("BTC-USD", _D("42500.00"), _D("0.01"), _D("0.00000001"), 500000),
        "ETH-USD": SymbolSpec("ETH-USD", _D("2200.00"), _D("0.01"), _D("0.00000001"), 5000000),
    },
    "kraken": {
        "BTC-USD": SymbolSpec("BTC-USD", _D("62710.0"), _D("0.1"), _D("0.00000001"), 500000),
        "ETH-USD": SymbolSpec("ETH-USD", _D("3100.00"), _D("0.01"), _D("0.00000001"), 5000000),
    },
    "alpaca": {
        "AAPL": SymbolSpec("AAPL", _D("190.00"), _D("0.01"), _D("1"), 300),
        "MSFT": SymbolSpec("MSFT", _D("400.00"), _D("0.01"), _D("1"), 300),
    },
}
"""The built-in encoders' default instruments (each encoder class points at its own)."""


@dataclass(frozen=True)
class SimulatorConfig:
    """Everything the simulator can be told; defaults give a small, lively market."""

    venues: tuple[str, ...] = VENUES
    seed: int = 1
    rate: float = 50.0
    """Model events per second per symbol."""
    symbols: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """Per-venue symbol override (normalized names); default: the venue's INSTRUMENTS."""
    host: str = "127.0.0.1"
    port_base: int = 0
    """0: ephemeral ports; otherwise venue i listens on port_base + i."""
    tick_s: float = 0.01
    ping_interval_s: float = 20.0
    alpaca_key: str = "sim-key"
    alpaca_secret: str = "sim-secret"
    auth_timeout_s: float = 10.0
    subscribe_deadline_s: float = 5.0
    send_queue_frames: int = 2000
    rest_history: int = 50_000
    truth_book_retention: int = 5000
    truth_trade_cap: int = 1_000_000

    def __post_init__(self) -> None:
        installed = simulator_venue_names()
        unknown = [v for v in self.venues if v not in installed]
        if unknown:
            raise UnknownSimulatorVenue(f"venues: unknown {unknown}; installed: {installed}")
        for name in ("tick_s", "ping_interval_s", "auth_timeout_s", "subscribe_deadline_s"):
            if getattr(self, name) <= 0:
                raise SimulatorConfigError(f"{name} must be > 0")
        for name in (
            "send_queue_frames",
            "rest_history",
            "truth_book_retention",
            "truth_trade_cap",
        ):
            if getattr(self, name) < 1:
                raise SimulatorConfigError(f"{name} must be >= 1")

    def specs(self, venue: str) -> list[SymbolSpec]:
        """The configured symbols of `venue` (else its encoder's default instruments), each as
        the encoder knows it or generic, so any symbol can be simulated."""
        encoder = simulator_venue_class(venue)
        names = self.symbols.get(venue) or tuple(encoder.instruments)
        if not names:
            raise SimulatorConfigError(
                f"symbols: the {venue} simulator has no default instruments; name its symbols"
            )
        return [encoder.spec(name) for name in names]
