"""Recordings of raw venue messages, one message per line, as `mdc normalize` and `mdc ingest` read
them: `<Unix seconds>: <message>` (the receive time a recorder wrote, as cryptofeed-style raw
recordings do: `1614650400.123456: {"e":"trade",...}`) or the bare message.

One reader for both commands, so a message gets the same times whichever of them reads it. A bare
line has no receive time: its events get their venue time as `ts_recv`, and a message without a
venue time (Binance spot bookTicker, Kraken v1 ticker) gets the shell's `fallback_ns` for both
times (the parser puts the receive time it is given where the venue time is missing), never 0.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import msgspec

from mdc.events import Event
from mdc.timefmt import BadTimestamp, parse_decimal_seconds_ns


@dataclass(frozen=True, slots=True)
class RecordedLine:
    """One message; `ts_recv` is its recorded receive time, or the fallback when not `recorded`."""

    number: int
    message: bytes
    ts_recv: int
    recorded: bool

    def stamp(self, events: list[Event]) -> list[Event]:
        """A bare line's events take their venue time as receive time: closer than any guess."""
        if self.recorded:
            return events
        return [msgspec.structs.replace(e, ts_recv=e.ts_event) for e in events]


class Recording:
    """Splits lines into messages and receive times; `bare` counts the lines without a time, so
    the shell can say once what they got instead."""

    def __init__(self, fallback_ns: int) -> None:
        self.fallback_ns = fallback_ns
        self.bare = 0

    def lines(self, source: Iterable[bytes]) -> Iterator[RecordedLine]:
        for number, line in enumerate(source, start=1):
            raw = line.strip()
            if raw:
                yield self._split(number, raw)

    def _split(self, number: int, raw: bytes) -> RecordedLine:
        head, colon, message = raw.partition(b":")
        if colon and raw[:1] not in b"{[":
            try:
                ts_recv = parse_decimal_seconds_ns(head.decode("ascii", "replace"))
            except BadTimestamp:
                pass  # not a time: the venue reports the whole line as malformed
            else:
                return RecordedLine(number, message.strip(), ts_recv, recorded=True)
        self.bare += 1
        return RecordedLine(number, raw, self.fallback_ns, recorded=False)
