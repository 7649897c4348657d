"""Replay stored events into any consumer, as fast as possible or paced by receive time.

One interface for every consumer (features, alerts, a JSON-lines writer): `on_event(event)`.
Pacing takes the clock and the sleep function as arguments, so tests run without sleeping.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import BinaryIO, Protocol

from mdc.errors import CollectorError
from mdc.events import Event, to_json
from mdc.timefmt import NS, BadTimestamp, parse_rfc3339_ns


class Consumer(Protocol):
    def on_event(self, event: Event) -> None: ...


class BadArgument(CollectorError):
    """A command-line value (time, speed) that cannot be understood."""


class JsonLinesConsumer:
    """Writes each event as one JSON line (decimals as strings) to a binary stream."""

    def __init__(self, out: BinaryIO) -> None:
        self.out = out

    def on_event(self, event: Event) -> None:
        self.out.write(to_json(event) + b"\n")


def parse_time(text: str) -> int:
    """RFC 3339 (`2024-01-15T10:30:00.5Z`), a UTC date (`2024-01-15`) or integer ns -> ns."""
    text = text.strip()
    if text.isdigit():
        return int(text)
    try:
        if len(text) == 10:
            date = datetime.strptime(text, "%Y-%m-%d").replace(tzinfo=UTC)
            return int(date.timestamp()) * NS
        return parse_rfc3339_ns(text)
    except (ValueError, BadTimestamp) as exc:
        raise BadArgument(
            f"bad time {text!r}: use RFC 3339 (2024-01-15T10:30:00Z, fractions allowed), "
            "a date (2024-01-15, UTC midnight) or integer nanoseconds since the epoch"
        ) from exc


def parse_speed(text: str) -> float | None:
    """`max` (None: no pacing) or a positive factor (2 = twice as fast as recorded)."""
    if text == "max":
        return None
    try:
        speed = float(text)
    except ValueError:
        speed = 0.0
    if not speed > 0:
        raise BadArgument(f"bad speed {text!r}: use a positive number or 'max'")
    return speed


def replay(
    events: Iterable[Event],
    consumer: Consumer,
    *,
    speed: float | None = None,
    clock_ns: Callable[[], int] | None = None,
    sleep: Callable[[float], None] | None = None,
) -> int:
    """Deliver events in order; with `speed`, event i waits until (ts_recv_i - ts_recv_0) / speed
    has passed on `clock_ns` since the first. Returns how many were delivered."""
    if speed is not None and (clock_ns is None or sleep is None):
        raise ValueError("paced replay needs clock_ns and sleep")
    count = 0
    first_ts = started = 0
    for event in events:
        if speed is not None:
            if count == 0:
                first_ts, started = event.ts_recv, clock_ns()  # type: ignore[misc]
            due = started + (event.ts_recv - first_ts) / speed
            wait = due - clock_ns()  # type: ignore[misc]
            if wait > 0:
                sleep(wait / NS)  # type: ignore[misc]
        consumer.on_event(event)
        count += 1
    return count
