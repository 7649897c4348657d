"""Record framing shared by the WAL and the checkpoint files: [u32 len][u32 CRC32C][payload].

Little-endian header; the CRC covers the payload. A scan stops at the first record that is short,
has an impossible length or a wrong CRC, and says why, so recovery can truncate exactly there.
"""

from __future__ import annotations

import enum
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

import crc32c

HEADER = struct.Struct("<II")
MAX_RECORD_BYTES = 64 * 1024 * 1024


class Tail(enum.Enum):
    CLEAN = "clean"  # the file ends exactly after a record
    TORN_HEADER = "torn_header"
    TORN_PAYLOAD = "torn_payload"
    BAD_LENGTH = "bad_length"
    BAD_CRC = "bad_crc"


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
