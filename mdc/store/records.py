"""Record framing shared by the WAL and the checkpoint files: [u32 len][u32 CRC32C][payload].

Little-endian header; the CRC covers the payload. A scan stops at the first record that is short,
has an impossible length or a wrong CRC, and says why, so recovery can truncate exactly there.

WAL records are frames: the payload is one msgpack array of events (the part of one appended
batch that goes to one stream), each element exactly `events.to_msgpack(event)`. One CRC covers
the whole frame, so a torn or corrupt frame is dropped whole: a batch is never half-applied.
"""

from __future__ import annotations

import enum
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

import crc32c
import msgspec

from mdc.events import Event

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


def encode_frames(events: list[Event]) -> list[bytearray]:
    """WAL records holding `events` in order: one, unless it would exceed MAX_RECORD_BYTES.
    The payload is encoded after a reserved header (no copy), then the header is filled in."""
    record = bytearray(HEADER.size)
    _FRAME_ENCODER.encode_into(events, record, HEADER.size)
    size = len(record) - HEADER.size
    if size > MAX_RECORD_BYTES and len(events) > 1:
        half = len(events) // 2
        return encode_frames(events[:half]) + encode_frames(events[half:])
    with memoryview(record) as view:
        HEADER.pack_into(record, 0, size, crc32c.crc32c(view[HEADER.size :]))
    return [record]


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


def scan_frames(f: BinaryIO, end: ScanEnd) -> Iterator[tuple[int, bytes]]:
    """(event count, payload) of every good WAL frame from the start; fills `end` like `scan`."""
    offset = 0
    for payload in scan(f, end):
        count = array_length(payload)
        if count is None:
            end.offset, end.tail = offset, Tail.BAD_FRAME
            return
        offset += HEADER.size + len(payload)
        yield count, payload
