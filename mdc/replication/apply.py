"""Applying a primary's records to a follower's log: idempotent, whole records only.

A record is a WAL frame with the seq of its first event. Every record of a chunk is checked
(stream name, frame length, CRC, a msgpack array of at least one event) before any is applied,
so a damaged chunk changes nothing. Then, per record against the stream's next seq:
- already held (it ends at or before it): skipped, as a resent record after a reconnect is;
- partly held: only the events past it are appended (re-framed);
- starting after it: the primary holds nothing in between (a known hole, or retention); the
  follower's log marks the same hole (a new segment at that seq);
- else appended as it came, bytes and all.
`commit()` makes everything applied durable with one fsync per touched stream. The follower's
cursor *is* its log's ends, so the cursor and the data are made durable by the same fsync.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import crc32c

from mdc.errors import CollectorError
from mdc.store import records
from mdc.store.follow import BadPosition, stream_named
from mdc.store.streams import Stream
from mdc.store.wal import WAL


class BadRecord(CollectorError):
    """The primary sent a record that is not a whole, intact WAL frame: nothing of its chunk
    is applied."""


@dataclass(frozen=True, slots=True)
class Checked:
    stream: Stream
    seq: int
    frame: bytes
    count: int


def check(stream: str, seq: int, frame: bytes) -> Checked:
    """The record, checked whole: a known stream, an exact frame length, its CRC, events."""
    try:
        named = stream_named(stream)
    except BadPosition as exc:
        raise BadRecord(f"record at {seq}: {exc}") from None
    where = f"{stream} record at {seq}"
    if len(frame) < records.HEADER.size:
        raise BadRecord(f"{where}: {len(frame)} bytes is no frame")
    length, crc = records.HEADER.unpack_from(frame)
    payload = memoryview(frame)[records.HEADER.size :]
    if length != len(payload):
        raise BadRecord(f"{where}: the frame says {length} bytes, {len(payload)} came")
    if crc32c.crc32c(payload) != crc:
        raise BadRecord(f"{where}: CRC mismatch (damaged in transit or on the primary)")
    count = records.frame_count(frame)
    if not count:
        raise BadRecord(f"{where}: the payload is not an array of events")
    return Checked(named, seq, frame, count)


class Applier:
    """Appends checked records to a writable WAL (see the module docstring)."""

    def __init__(self, wal: WAL) -> None:
        self._wal = wal
        self.applied = 0  # events appended since the start

    def apply(self, chunk: Iterable[tuple[str, int, bytes]]) -> int:
        """Apply a chunk's (stream, seq, frame) records; returns the events appended."""
        checked = [check(stream, seq, frame) for stream, seq, frame in chunk]
        added = 0
        for record in checked:
            added += self._apply(record)
        self.applied += added
        return added

    def _apply(self, record: Checked) -> int:
        wal, stream = self._wal, record.stream
        end = wal.next_seq(stream)
        if record.seq + record.count <= end:
            return 0
        if record.seq < end:
            items = records.RAW_DECODER.decode(memoryview(record.frame)[records.HEADER.size :])
            fresh = items[end - record.seq :]
            frame = records.encode(records.encode_payload(fresh))  # type: ignore[arg-type]
            wal.append_frame(stream, end, frame, len(fresh))
            return len(fresh)
        if record.seq > end and wal.positions().get(stream, 0) != end:
            wal.commit()  # a hole starts a new segment: the records before it go first
        wal.append_frame(stream, record.seq, record.frame, record.count)
        return record.count

    def commit(self) -> dict[Stream, int]:
        """Make every applied record durable (fsync); returns the log's ends: the cursor."""
        self._wal.commit()
        return self._wal.positions()
