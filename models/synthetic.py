"""A reproducible event stream for training: the simulator's market model, without network or Ray.

The model and its seeding are the simulator's own (`VenueDriver`: same seed, same market as
`mdc simulate --seed`), stepped on an explicit clock. Its events are turned into the normalized
events a collector would store: each instrument opens with a full `BookSnapshot`, then every model
book update is one `BookDelta` and every fill one `Trade` (converted by the venue's own
`truth_trade`). Receive time equals venue time, so the stream is a pure function of its arguments.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import msgspec

from mdc.events import BookDelta, BookSnapshot, Event, Level
from mdc.simulator.config import SimulatorConfig
from mdc.simulator.driver import VenueDriver
from mdc.simulator.model import BookUpdate, Change, ModelTrade, SymbolModel
from models.errors import TrainingError

START_NS = 1_700_000_000_000_000_000
"""Fixed start (2023-11-14T22:13:20Z) so the same seed always gives the same bytes."""
STEP_NS = 1_000_000_000
DEFAULT_VENUE = "binance"
DEFAULT_SYMBOLS = ("BTC-USDT", "ETH-USDT")


def synthetic_events(
    seed: int,
    seconds: int,
    *,
    venue: str = DEFAULT_VENUE,
    symbols: Sequence[str] = DEFAULT_SYMBOLS,
    rate: float = SimulatorConfig.rate,
) -> Iterator[Event]:
    """Events of `seconds` of simulated market for `symbols` on `venue`, in event-time order."""
    if seconds <= 0:
        raise TrainingError(f"synthetic duration must be positive, got {seconds} s")
    config = SimulatorConfig(venues=(venue,), seed=seed, rate=rate, symbols={venue: tuple(symbols)})
    driver = VenueDriver(venue, config)
    wire_ts = driver.venue.wire_ts_ns
    for symbol, model in driver.model.symbols.items():
        yield _snapshot(venue, symbol, model, wire_ts(START_NS))
    for now_ns in range(START_NS, START_NS + seconds * STEP_NS + 1, STEP_NS):
        for model_event in driver.model.step(now_ns):
            if isinstance(model_event, ModelTrade):
                trade = driver.venue.truth_trade(model_event)
                yield msgspec.structs.replace(trade, ts_recv=trade.ts_event)
            else:
                yield _delta(venue, model_event, wire_ts(model_event.ts_ns))


def _snapshot(venue: str, symbol: str, model: SymbolModel, ts_ns: int) -> BookSnapshot:
    book = model.book
    return BookSnapshot(
        venue, symbol, ts_ns, ts_ns, book.top("bid"), book.top("ask"), update_id=model.update_id
    )


def _delta(venue: str, update: BookUpdate, ts_ns: int) -> BookDelta:
    return BookDelta(
        venue,
        update.symbol,
        ts_ns,
        ts_ns,
        _side(update.changes, "bid"),
        _side(update.changes, "ask"),
        first_update_id=update.update_id,
        last_update_id=update.update_id,
    )


def _side(changes: Sequence[Change], side: str) -> tuple[Level, ...]:
    return tuple((price, size) for which, price, size in changes if which == side)
