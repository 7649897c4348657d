"""One venue's sans-I/O pipeline: model step -> ground truth -> venue publications.

The server drives it from the real clock; tests drive it with any `now_ns` sequence.
"""

from __future__ import annotations

import random

from mdc.simulator.config import SimulatorConfig
from mdc.simulator.encoders.base import Publication, Venue
from mdc.simulator.model import MarketModel, ModelEvent
from mdc.simulator.registry import simulator_venue_class
from mdc.simulator.truth import VenueTruth


class VenueDriver:
    """The venue, its model and its truth, seeded from (seed, venue) so venues are independent."""

    def __init__(self, name: str, config: SimulatorConfig) -> None:
        rng = random.Random(f"{config.seed}:{name}")
        self.model = MarketModel(config.specs(name), rng, config.rate)
        self.venue: Venue = simulator_venue_class(name)(self.model, config)
        books = {s: (m.book, m.update_id) for s, m in self.model.symbols.items()}
        limits = (config.truth_book_retention, config.truth_trade_cap)
        self.truth = VenueTruth(name, books, self.venue.truth_trade, self.venue.wire_ts_ns, limits)
        self.last_events: list[ModelEvent] = []

    def advance(self, now_ns: int) -> list[Publication]:
        """Run the model up to `now_ns`; truth records before anything can be lost."""
        self.last_events = self.model.step(now_ns)
        self.truth.record(self.last_events)
        return self.venue.publish(self.last_events)
