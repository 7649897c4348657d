"""Recordings of raw venue messages, one message per line, as `mdc normalize` and `mdc ingest` read
them: `<Unix seconds>: <message>` (the receive time a recorder wrote, as cryptofeed-style raw
recordings do: `1614650400.123456: {"e":"trade",...}`) or the bare message.

One reader for both commands, so a message gets the same times whichever of them reads it. A bare
line has no receive time: its events get their venue time as `ts_recv`, and a message without a
venue time (Binance spot bookTicker, Kraken v1 ticker) gets the shell's `fallback_ns` for both
times (the parser puts the receive time it is given where the venue time is missing), never 0.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

import msgspec

from mdc.events import Event
from mdc.timefmt import BadTimestamp, parse_decimal_seconds_ns
from mdc.venues.storable import INT64


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


@dataclass(frozen=True, slots=True)
class BadLine:
    """A line refused before any venue reads it: longer than the limit (skipped, never held
    whole: a 100 MB line once took 300 MB to decode), or a receive time no event can have."""

    number: int
    reason: str


MAX_LINE_BYTES = 1 << 20
SKIP_CHUNK = 1 << 16
"""Bytes read at a time while skipping the rest of a long line."""


class Recording:
    """Splits lines into messages and receive times; `bare` counts the lines without a time, so
    the shell can say once what they got instead."""

    def __init__(self, fallback_ns: int, max_line_bytes: int = MAX_LINE_BYTES) -> None:
        self.fallback_ns = fallback_ns
        self.max_line_bytes = max_line_bytes
        self.bare = 0

    def lines(self, source: BinaryIO) -> Iterator[RecordedLine | BadLine]:
        for number, line in enumerate(self._read(source), start=1):
            if line is None:
                limit = self.max_line_bytes
                yield BadLine(number, f"line longer than {limit} bytes (--max-line-bytes): skipped")
                continue
            raw = line.strip()
            if raw:
                yield self._split(number, raw)

    def _read(self, source: BinaryIO) -> Iterator[bytes | None]:
        """Each line, or None for one longer than the limit (its newline not counted), whose
        rest is read past in chunks."""
        limit = self.max_line_bytes
        while line := source.readline(limit + 1):
            if len(line) <= limit or line.endswith(b"\n"):
                yield line
                continue
            while line and not line.endswith(b"\n"):
                line = source.readline(SKIP_CHUNK)
            yield None

    def _split(self, number: int, raw: bytes) -> RecordedLine | BadLine:
        head, colon, message = raw.partition(b":")
        if colon and raw[:1] not in b"{[":
            try:
                ts_recv = parse_decimal_seconds_ns(head.decode("ascii", "replace"))
            except BadTimestamp:
                pass  # not a time: the venue reports the whole line as malformed
            else:
                if ts_recv >= INT64:  # the store's times are int64 ns
                    return BadLine(number, f"receive time {head[:40]!r} is past the year 2262")
                return RecordedLine(number, message.strip(), ts_recv, recorded=True)
        self.bare += 1
        return RecordedLine(number, raw, self.fallback_ns, recorded=False)
