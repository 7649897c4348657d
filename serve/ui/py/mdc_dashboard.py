"""What the dashboard runs under Pyodide: mdc's own FeatureTracker over the events the page gets.

The page hands over JSON lines (`/v1/stream` messages, or a file of `mdc replay` output); each
line is decoded into mdc's event type by the schema's own annotations and fed to the same
FeatureTracker, with the same venue book syncs, that the collector's BookActors use. So for the
same events in the same order the values are the server's exactly. Values cross to JavaScript
as JSON: a float's shortest text, which JavaScript parses to the same double; a non-finite value
is null, as the API sends it.
"""

from __future__ import annotations

import json
import math
from decimal import Decimal

from mdc.events import Trade, from_json
from mdc.features import FeatureConfig, FeatureTracker

MAX_POINTS = 5000
"""Chart points kept per instrument (older ones are dropped: the page's memory is bounded)."""


class Dashboard:
    """Events in (JSON lines), feature vectors and chart series out."""

    def __init__(self) -> None:
        self.tracker = FeatureTracker(FeatureConfig.default())
        self.events = 0
        self.bad_lines = 0
        self.last_error = ""
        self.prices: dict[tuple[str, str], list[tuple[int, float]]] = {}

    def feed(self, text: str) -> int:
        """Feeds every non-blank line; returns how many were events. A line that is not an
        event is counted in `bad_lines` (with the last reason), never fed."""
        fed = 0
        for line in text.splitlines():
            if not line.strip():
                continue
            try:
                event = from_json(line)
            except ValueError as exc:  # msgspec.DecodeError and ValidationError are ValueErrors
                self.bad_lines += 1
                self.last_error = str(exc)
                continue
            self.tracker.on_event(event)
            self._chart(event)
            fed += 1
        self.events += fed
        return fed

    def _chart(self, event: object) -> None:
        if isinstance(event, Trade):
            self._point(event.venue, event.symbol, event.ts_event, event.price)

    def _point(self, venue: str, symbol: str, ts_ns: int, price: Decimal) -> None:
        points = self.prices.setdefault((venue, symbol), [])
        points.append((ts_ns, float(price)))
        if len(points) > MAX_POINTS:
            del points[: len(points) - MAX_POINTS]

    def vector(self, venue: str, symbol: str) -> str:
        """The instrument's features as of its latest event, as JSON, with `t_ns` as decimal
        text (nanoseconds exceed what a JavaScript number holds exactly); `null` for an
        instrument never seen."""
        found = self.tracker.vector(venue, symbol)
        if found is None:
            return "null"
        values = {k: _finite(v) for k, v in found.values.items()}
        return json.dumps({"t_ns": str(found.t_ns), "features": values})

    def instruments(self) -> str:
        return json.dumps(self.tracker.instruments())

    def series(self, venue: str, symbol: str) -> str:
        """[[times in s], [prices]] of the instrument's trades, for uPlot."""
        points = self.prices.get((venue, symbol), [])
        return json.dumps([[t / 1e9 for t, _ in points], [p for _, p in points]])

    def depth(self, venue: str, symbol: str, levels: int) -> str:
        """The page's own book of the instrument: {"bids": [[price, size]...], "asks": ...,
        "in_sync": bool}, prices and sizes as exact decimal text; null if never seen."""
        inst = self.tracker._instruments.get((venue, symbol))
        if inst is None:
            return "null"
        bids, asks = inst.sync.book.top(levels)
        return json.dumps(
            {
                "bids": [[str(p), str(s)] for p, s in bids],
                "asks": [[str(p), str(s)] for p, s in asks],
                "in_sync": inst.sync.in_sync,
            }
        )

    def stats(self) -> str:
        return json.dumps(
            {"events": self.events, "bad_lines": self.bad_lines, "last_error": self.last_error}
        )


def _finite(value: float | int | None) -> float | int | None:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
