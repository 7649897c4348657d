"""Record framing shared by the WAL and the checkpoint files: [u32 len][u32 CRC32C][payload].

Little-endian header; the CRC covers the payload. A scan stops at the first record that is short,
has an impossible length or a wrong CRC, and says why. `walk` goes on from there: it resynchronises
on the next offset where a whole frame validates, so one damaged record does not hide the intact
ones after it, and what it skipped is an `Unreadable` byte range (torn when nothing follows).

WAL records are frames: the payload is one msgpack array of events (the part of one appended
batch that goes to one stream), each element exactly `events.to_msgpack(event)`. One CRC covers
the whole frame, so a torn or corrupt frame is dropped whole: a batch is never half-applied.
"""

from __future__ import annotations

import enum
import os
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

import crc32c
import msgspec

from mdc.events import AnyEvent, Event

HEADER = struct.Struct("<II")
MAX_RECORD_BYTES = 64 * 1024 * 1024


class Tail(enum.Enum):
    CLEAN = "clean"  # the file ends exactly after a record
    TORN_HEADER = "torn_header"
    TORN_PAYLOAD = "torn_payload"
    BAD_LENGTH = "bad_length"
    BAD_CRC = "bad_crc"
    BAD_FRAME = "bad_frame"  # a WAL record whose (CRC-valid) payload is not a msgpack array


def encode(payload: bytes) -> bytes:
    return HEADER.pack(len(payload), crc32c.crc32c(payload)) + payload


@dataclass(slots=True)
class ScanEnd:
    """Where a scan stopped: `offset` is the end of the last good record."""

    offset: int = 0
    tail: Tail = Tail.CLEAN


def scan(f: BinaryIO, end: ScanEnd, start: int = 0, *, skip: int = 0) -> Iterator[bytes]:
    """Yield payloads from `start`; fills `end` when done. The first `skip` records are only
    framed (length check, no CRC, no payload copy), for seeking to a record index."""
    f.seek(start)
    offset = start
    while True:
        header = f.read(HEADER.size)
        if not header:
            end.offset, end.tail = offset, Tail.CLEAN
            return
        if len(header) < HEADER.size:
            end.offset, end.tail = offset, Tail.TORN_HEADER
            return
        length, crc = HEADER.unpack(header)
        if length > MAX_RECORD_BYTES:
            end.offset, end.tail = offset, Tail.BAD_LENGTH
            return
        if skip:
            skip -= 1
            f.seek(length, 1)
            offset += HEADER.size + length
            continue
        payload = f.read(length)
        if len(payload) < length:
            end.offset, end.tail = offset, Tail.TORN_PAYLOAD
            return
        if crc32c.crc32c(payload) != crc:
            end.offset, end.tail = offset, Tail.BAD_CRC
            return
        offset += HEADER.size + length
        yield payload


_FRAME_ENCODER = msgspec.msgpack.Encoder(decimal_format="string")
UNENCODABLE = (OverflowError, TypeError, msgspec.EncodeError)
"""What encoding an event a frame cannot hold raises (an int beyond 64 bits, say)."""


PAYLOAD_DECODER = msgspec.msgpack.Decoder(list[AnyEvent])
"""The events of one payload (what `encode_payload` made): the one decoder of that format."""
RAW_DECODER = msgspec.msgpack.Decoder(list[msgspec.Raw])
"""The events of one payload left encoded, one `msgspec.Raw` each (re-framing a part of it)."""


def encode_payload(events: list[Event]) -> bytes:
    """A WAL record's payload (a msgpack array of `events`), unframed: what `encode_frames` puts
    after the header. Raises one of UNENCODABLE like it."""
    return _FRAME_ENCODER.encode(events)


def encode_frames(events: list[Event]) -> list[bytearray]:
    """WAL records holding `events` in order: one, unless it would exceed MAX_RECORD_BYTES.
    The payload is encoded after a reserved header (no copy), then the header is filled in.
    Raises one of UNENCODABLE when an event cannot be encoded (see `unencodable`)."""
    record = bytearray(HEADER.size)
    _FRAME_ENCODER.encode_into(events, record, HEADER.size)
    size = len(record) - HEADER.size
    if size > MAX_RECORD_BYTES and len(events) > 1:
        half = len(events) // 2
        return encode_frames(events[:half]) + encode_frames(events[half:])
    with memoryview(record) as view:
        HEADER.pack_into(record, 0, size, crc32c.crc32c(view[HEADER.size :]))
    return [record]


def unencodable(events: list[Event]) -> dict[int, str]:
    """Index -> why, for each event a frame cannot hold; the slow path after a failed encode."""
    bad = {}
    for i, event in enumerate(events):
        try:
            _FRAME_ENCODER.encode(event)
        except UNENCODABLE as exc:
            bad[i] = f"{type(exc).__name__}: {exc}"
    return bad


def array_length(payload: bytes) -> int | None:
    """Element count of a msgpack array (fixarray, array 16, array 32); None if not an array."""
    if not payload:
        return None
    first = payload[0]
    if 0x90 <= first <= 0x9F:
        return first & 0x0F
    if first == 0xDC and len(payload) >= 3:
        return int.from_bytes(payload[1:3], "big")
    if first == 0xDD and len(payload) >= 5:
        return int.from_bytes(payload[1:5], "big")
    return None


def frame_count(frame: bytes | memoryview) -> int | None:
    """Events in a whole frame (header included): its payload's array length; None if the
    payload is no array."""
    return array_length(bytes(frame[HEADER.size : HEADER.size + 5]))


@dataclass(frozen=True, slots=True)
class Frame:
    """A valid WAL frame at `offset` holding `count` events."""

    offset: int
    count: int
    payload: bytes

    @property
    def end(self) -> int:
        return self.offset + HEADER.size + len(self.payload)


@dataclass(frozen=True, slots=True)
class Unreadable:
    """Bytes [start, end) holding no valid frame; `torn` when no valid frame follows them.
    `tail` says what was wrong with the first frame there."""

    start: int
    end: int
    tail: Tail
    torn: bool


def walk(f: BinaryIO, start: int = 0) -> Iterator[Frame | Unreadable]:
    """Every valid WAL frame of a file in order from `start` (a frame boundary), and every
    unreadable byte range between them."""
    while True:
        end = ScanEnd()
        offset = start
        for payload in scan(f, end, start):
            count = array_length(payload)
            if count is None:
                end.offset, end.tail = offset, Tail.BAD_FRAME
                break
            yield Frame(offset, count, payload)
            offset += HEADER.size + len(payload)
        if end.tail is Tail.CLEAN:
            return
        size = f.seek(0, os.SEEK_END)
        found = resync(f, end.offset)
        yield Unreadable(end.offset, size if found is None else found, end.tail, found is None)
        if found is None:
            return
        start = found


def resync(f: BinaryIO, bad: int) -> int | None:
    """The first offset after `bad` where a whole valid frame starts, or None. Where the bad
    frame's own header says the next one starts is tried first: when only its payload was
    damaged, that is the answer, found without a byte-by-byte search."""
    f.seek(bad)
    data = f.read()
    if len(data) >= HEADER.size:
        claimed = HEADER.size + HEADER.unpack_from(data)[0]
        if _frame_at(data, claimed):
            return bad + claimed
    return next((bad + i for i in range(1, len(data)) if _frame_at(data, i)), None)


def _frame_at(data: bytes, i: int) -> bool:
    """Whether a whole valid frame of at least one event starts at data[i]."""
    if i + HEADER.size > len(data):
        return False
    length, crc = HEADER.unpack_from(data, i)
    start = i + HEADER.size
    if not 0 < length <= len(data) - start:
        return False
    payload = data[start : start + length]
    return crc32c.crc32c(payload) == crc and bool(array_length(payload))


def declared_count(run: bytes) -> int | None:
    """The event count a damaged run's own frame header declares, when the run is exactly one
    frame whose length field survived (its count is then as good as the array header)."""
    if len(run) < HEADER.size or HEADER.unpack_from(run)[0] != len(run) - HEADER.size:
        return None
    return array_length(run[HEADER.size :])
