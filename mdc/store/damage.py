"""Damage in WAL segments: find it, say exactly what it cost, move it aside.

A run of segment bytes that holds no valid frame is one of:

- a torn tail: the end of the newest segment, nothing readable after it (a write cut short by a
  crash). Recovery cuts it off and reports it (`Truncation`).
- damage: readable frames follow it, or it lies in a sealed segment (sealed segments were fsynced
  whole before the next one started, so nothing in them is torn). The readable frames are kept;
  the run is copied to `<quarantine>/<stream>/<segment>-<offset>.bad` and removed from the
  segment, and the records after it move down to fill the seqs it held (`Damage.seq` is the first
  moved one). Readers that meet damage before it is moved aside resynchronise the same way, so a
  seq names the same record before and after the repair.

A sealed segment holds the seqs from its first to the next segment's first. What it lacks of that
range is known exactly: the events its damage held, plus, if more is lacking, a missing segment
after it (`Missing`). A repaired segment that still lacks seqs is followed by an empty segment file
named after the first lacking seq: a known hole, told apart from a segment that went missing.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from typing import BinaryIO

from mdc.store import records
from mdc.store.fs import FileSystem
from mdc.store.streams import Stream

LOG = logging.getLogger("mdc.store")
LOG.addHandler(logging.NullHandler())  # a library logs; the application decides where to
SEGMENT_SUFFIX = ".seg"


def segment_path(directory: str, first: int) -> str:
    return os.path.join(directory, f"{first:020d}{SEGMENT_SUFFIX}")


@dataclass(frozen=True, slots=True)
class Truncation:
    segment: str
    offset: int
    dropped_bytes: int
    tail: str

    def __str__(self) -> str:
        return (
            f"{self.segment}: torn tail ({self.tail}): {self.dropped_bytes} byte(s) at offset "
            f"{self.offset} after the last whole record, cut off when opened for writing"
        )


@dataclass(frozen=True, slots=True)
class Damage:
    """Unreadable bytes [start, end) of `segment`; the records after them moved down to `seq`.
    `events` is how many records the run held: exact in a sealed segment (from its seq range),
    else what the run's own frame header declares, when that survived (None: unknown)."""

    stream: Stream
    segment: str
    start: int
    end: int
    seq: int
    events: int | None
    reason: str
    quarantine: str | None = None  # where the bytes were moved, once they were

    def __str__(self) -> str:
        lost = "an unknown number of" if self.events is None else str(self.events)
        where = f"moved to {self.quarantine}" if self.quarantine else "still in place"
        return (
            f"{self.stream}: {self.segment} bytes {self.start}-{self.end} unreadable "
            f"({self.reason}): {lost} record(s) lost at seq {self.seq}; {where}"
        )


@dataclass(frozen=True, slots=True)
class Missing:
    """The segment file that held seqs [start, stop) is gone."""

    stream: Stream
    segment: str
    start: int
    stop: int

    def __str__(self) -> str:
        return (
            f"{self.stream}: segment {self.segment} is missing: "
            f"{self.stop - self.start} record(s) lost (seqs {self.start}-{self.stop - 1})"
        )


@dataclass(frozen=True, slots=True)
class SegmentReport:
    """One segment as read: `events` readable records in `frames` (byte spans), `size` bytes;
    `stop` is the next segment's first seq (None for the newest); `lacking` the seqs of
    [first, stop) that hold no record."""

    stream: Stream
    path: str
    first: int
    stop: int | None
    events: int
    size: int
    frames: tuple[tuple[int, int], ...]
    damage: tuple[Damage, ...] = ()
    tail: Truncation | None = None
    missing: Missing | None = None

    @property
    def lacking(self) -> int:
        return 0 if self.stop is None else max(0, self.stop - self.first - self.events)

    @property
    def damaged(self) -> bool:
        """Whether a repair has work here (a torn tail is recovery's, not damage)."""
        return bool(self.damage or self.missing)

    def problems(self) -> list[str]:
        return [str(p) for p in (*self.damage, self.tail, self.missing) if p is not None]


def inspect(
    fs: FileSystem, stream: Stream, path: str, first: int, stop: int | None
) -> SegmentReport:
    """Read a whole segment and account for every byte and every seq of its range."""
    spans: list[tuple[int, int]] = []
    runs: list[tuple[records.Unreadable, int, int | None]] = []
    events = 0
    with fs.open_read(path) as f:
        for item in records.walk(f):
            if isinstance(item, records.Unreadable):
                f.seek(item.start)
                declared = records.declared_count(f.read(item.end - item.start))
                runs.append((item, first + events, declared))
            elif spans and spans[-1][1] == item.offset:
                spans[-1], events = (spans[-1][0], item.end), events + item.count
            else:
                spans.append((item.offset, item.end))
                events += item.count
        size = f.seek(0, os.SEEK_END)
    report = SegmentReport(stream, path, first, stop, events, size, tuple(spans))
    tail = None
    if stop is None and runs and runs[-1][0].torn:
        run = runs.pop()[0]
        tail = Truncation(path, run.start, run.end - run.start, run.tail.value)
    counts, unexplained = _lost(None if stop is None else report.lacking, [n for *_, n in runs])
    damage = tuple(
        Damage(stream, path, run.start, run.end, seq, n, run.tail.value)
        for (run, seq, _), n in zip(runs, counts, strict=True)
    )
    missing = None
    if stop is not None and unexplained and size:  # an empty file is a known hole, see above
        start = stop - unexplained
        missing = Missing(stream, segment_path(os.path.dirname(path), start), start, stop)
    return replace(report, damage=damage, tail=tail, missing=missing)


def _lost(lacking: int | None, declared: list[int | None]) -> tuple[list[int | None], int]:
    """Records lost per damaged run, and the seqs of a sealed segment's range that its damage
    does not explain (a missing segment after it). `lacking` is None for the newest segment."""
    if lacking is None or not declared:
        return declared, lacking or 0
    known = sum(n for n in declared if n is not None)
    unknown = [i for i, n in enumerate(declared) if n is None]
    if known > lacking:  # a declared count was itself damaged
        return ([lacking] if len(declared) == 1 else [None] * len(declared)), 0
    if len(unknown) == 1:
        counts = list(declared)
        counts[unknown[0]] = lacking - known
        return counts, 0
    return declared, 0 if unknown else lacking - known


def quarantine_path(root: str, damage: Damage) -> str:
    stem = os.path.basename(damage.segment).removesuffix(SEGMENT_SUFFIX)
    return os.path.join(root, damage.stream.dirname, f"{stem}-{damage.start}.bad")


def move_aside(fs: FileSystem, report: SegmentReport, quarantine: str) -> SegmentReport:
    """Copy every damaged run into the quarantine, then replace the segment by its readable
    frames alone; each step durable before the next, so a crash at any point loses nothing and
    the next recovery simply does it again. Returns the report with the quarantine paths."""
    moved = []
    with fs.open_read(report.path) as f:
        for damage in report.damage:
            path = quarantine_path(quarantine, damage)
            fs.makedirs(os.path.dirname(path))
            write_file(fs, path, _ranges(f, [(damage.start, damage.end)]))
            fs.fsync_dir(os.path.dirname(path))
            moved.append(replace(damage, quarantine=path))
        write_file(fs, report.path + ".tmp", _ranges(f, report.frames))
    fs.rename(report.path + ".tmp", report.path)
    fs.fsync_dir(os.path.dirname(report.path))
    size = sum(end - start for start, end in report.frames)
    return replace(report, damage=tuple(moved), size=size, frames=((0, size),) if size else ())


def _ranges(f: BinaryIO, spans: Iterable[tuple[int, int]]) -> Iterator[bytes]:
    for start, end in spans:
        f.seek(start)
        yield f.read(end - start)


def write_file(fs: FileSystem, path: str, chunks: Iterable[bytes]) -> None:
    """(Re)write `path` with `chunks`, fsynced (its directory is the caller's to fsync)."""
    fd = fs.open_append(path)
    try:
        fs.truncate(fd, 0)
        for chunk in chunks:
            fs.write(fd, chunk)
        fs.fsync(fd)
    finally:
        fs.close(fd)


def log_problems(lines: Iterable[str]) -> None:
    for line in lines:
        LOG.warning("%s", line)
