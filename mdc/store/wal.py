"""Write-ahead log: append-only segment files per stream, CRC32C per record, group commit.

Layout: `<root>/<stream dirname>/<first seq, 20 digits>.seg`. Every stream numbers its events
0, 1, 2, ... (its "seq"); a segment is named after the seq of its first event, so positions stay
valid when old segments are removed by retention. A record is a frame
`[u32 len][u32 CRC32C][msgpack array of events]` holding one appended batch's events for the
stream (see `records.py`), so the CRC, the encoding and the write are per batch, not per event.
A batch is never split across segments.

Group commit: `append()` only encodes and buffers (deduplicated, see `dedup.py`) and hands out a
`Ticket`; `commit()` writes every pending record, fsyncs each touched segment once, and only then
acknowledges all pending tickets. A commit is all or nothing for the caller: on any OSError every
touched file is truncated back to its last durable size, the dedup window forgets the pending
identities, and a `DiskFull`/`IOFailure` naming the failed tickets is raised; the callers still hold
their batches and append them again after healing. (A crash in the middle of a commit can leave
some streams' part of the group on disk without an ack; appending the batch again stores nothing
twice because of dedup.) A failed fsync is never retried on the same bytes: they are truncated away
and rewritten, which is safe even where Linux drops the dirty pages after an fsync error.

Append: each stream's share of a batch is deduplicated and encoded before anything changes, and
identities enter the dedup window only when their record is durable (see `dedup.py`). An event no
frame can hold (an id beyond 64 bits) is refused alone: the ticket names it (`Ticket.refused`) and
the rest of the batch is stored.

Recovery (`WAL.open`): the newest segment of every stream is scanned and CRC-checked. A torn tail
is truncated (always at a frame boundary: a torn batch is dropped whole); damage followed by
intact records is moved aside and the intact records are kept (see `damage.py`, which also says
what happens to seqs); both are reported in a `RecoveryReport` (`records_scanned` counts events)
and logged. Older segments were fsynced before rotation; readers verify their CRCs, read around
damage the same way, and log what they met (`problems()`); `repair()` moves it aside for good.
Before records are renumbered, `forget(stream, seq)` lets the followers (projections) take back
what they hold from that seq on.

Thread-safety: none. One thread (the writer actor) owns a writable WAL; readers in other
processes open it read-only and see every record that was durable when they listed the segments.
"""

from __future__ import annotations

import bisect
import os
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import msgspec

from mdc.errors import LocalMisuse
from mdc.events import Event, Gap
from mdc.store import records
from mdc.store.damage import (
    SEGMENT_SUFFIX,
    Damage,
    SegmentReport,
    Truncation,
    inspect,
    log_problems,
    move_aside,
    segment_path,
    write_file,
)
from mdc.store.dedup import DedupWindow, Key, identity_keys
from mdc.store.encoded import EncodedBatch, StreamPart, split_by_stream
from mdc.store.errors import Refusal, StorageError, StoreLocked, storage_error
from mdc.store.fs import FileSystem
from mdc.store.streams import Stream, stream_of

Forget = Callable[[Stream, int], None]


@dataclass(frozen=True, slots=True)
class Ticket:
    """One appended batch: acknowledged once `WAL.acked` reaches `number`."""

    number: int
    stored: int
    duplicates: int
    refused: tuple[Refusal, ...] = ()


@dataclass(frozen=True, slots=True)
class RecoveryReport:
    streams: int
    records_scanned: int
    truncations: tuple[Truncation, ...]
    damage: tuple[Damage, ...] = ()

    def lines(self) -> list[str]:
        return [str(p) for p in (*self.truncations, *self.damage)]


@dataclass(frozen=True, slots=True)
class _Share:
    """One stream's share of an appended batch, deduplicated and encoded, not yet applied."""

    log: _Log
    frames: list[bytes | bytearray]
    keys: list[Key]
    refused: list[Refusal]


def _keep(_stream: Stream, _seq: int) -> None:
    """The default `forget`: nothing follows the log."""


class Tail(NamedTuple):
    """A stream's durable end (next seq) and the first seq of its newest segment."""

    end: int
    segment: int


class _Resume(NamedTuple):
    """A frame boundary in a segment: the frame there holds `seq` on; a read that starts at or
    after `seq` in that segment seeks there instead of walking the frames before it (a live
    follower reads the newest segment again and again)."""

    segment: int
    seq: int
    offset: int


@dataclass(slots=True)
class _Log:
    """One stream's files and state; `size`/`end` describe durable data only."""

    stream: Stream
    path: str
    segments: list[int]
    dedup: DedupWindow
    end: int = 0
    size: int = 0
    fd: int | None = None
    broken: bool = False
    unsynced_dirs: list[str] = field(default_factory=list)
    pending: list[bytes | bytearray] = field(default_factory=list)  # encoded frames
    resume: _Resume | None = None  # where the last read stopped: the next one seeks there
    pending_bytes: int = 0
    pending_events: int = 0

    def segment_path(self, first: int) -> str:
        return segment_path(self.path, first)


class WAL:
    def __init__(
        self,
        root: str,
        fs: FileSystem,
        *,
        segment_bytes: int,
        dedup_window: int,
        readonly: bool,
        quarantine: str,
        forget: Forget,
    ) -> None:
        self.root = root
        self.fs = fs
        self.segment_bytes = segment_bytes
        self.dedup_window = dedup_window
        self.readonly = readonly
        self.quarantine = quarantine
        self._forget = forget
        self._seen: dict[str, SegmentReport] = {}  # segments read whole, by path
        self.acked = 0
        self.pending_bytes = 0
        self._logs: dict[Stream, _Log] = {}
        self._route: dict[tuple[type, str, str], Stream] = {}
        self._tickets: list[Ticket] = []
        self._next_ticket = 1
        self._lock_fd: int | None = None

    @classmethod
    def open(
        cls,
        root: str,
        fs: FileSystem,
        *,
        segment_bytes: int = 64 * 1024 * 1024,
        dedup_window: int = 100_000,
        readonly: bool = False,
        quarantine: str | None = None,
        forget: Forget = _keep,
    ) -> tuple[WAL, RecoveryReport]:
        """Open and recover; damaged bytes go under `quarantine` (default: beside `root`)."""
        wal = cls(
            root,
            fs,
            segment_bytes=segment_bytes,
            dedup_window=dedup_window,
            readonly=readonly,
            quarantine=quarantine or os.path.join(os.path.dirname(root), "quarantine"),
            forget=forget,
        )
        if not readonly:
            fs.makedirs(root)
            try:
                wal._lock_fd = fs.lock(os.path.join(root, "LOCK"))
            except BlockingIOError as exc:
                raise StoreLocked(f"{root} is open for writing by another process") from exc
        newest = [
            wal._recover(wal._load(Stream.from_dirname(name)))
            for name in fs.listdir(root)
            if "+" in name
        ]
        scanned = [r for r in newest if r is not None]
        report = RecoveryReport(
            len(wal._logs),
            sum(r.events for r in scanned),
            tuple(r.tail for r in scanned if r.tail is not None),
            tuple(d for r in scanned for d in r.damage),
        )
        log_problems(report.lines())
        return wal, report

    def _load(self, stream: Stream) -> _Log:
        path = os.path.join(self.root, stream.dirname)
        firsts = sorted(
            int(n[: -len(SEGMENT_SUFFIX)])
            for n in self.fs.listdir(path)
            if n.endswith(SEGMENT_SUFFIX)
        )
        log = _Log(stream, path, firsts, DedupWindow(self.dedup_window))
        self._logs[stream] = log
        return log

    def _recover(self, log: _Log) -> SegmentReport | None:
        """Scan the newest segment; cut a torn tail and move damage aside (writable only)."""
        if not log.segments:
            return None
        report = self._inspect(log, len(log.segments) - 1)
        if not self.readonly:
            report = self._mend(log, report)
        log.end = report.first + report.events
        log.size = sum(end - start for start, end in report.frames)
        if not self.readonly:
            self._rebuild_dedup(log)
        return report

    def _mend(self, log: _Log, report: SegmentReport) -> SegmentReport:
        """Make the segment hold only its readable frames: damage is moved aside, a torn tail is
        cut off. First the followers forget what they hold from the first seq lost on (records
        after damage move down; a missing segment's records are gone)."""
        lost = [d.seq for d in report.damage] + [m.start for m in (report.missing,) if m]
        log.resume = None  # frames move: no offset read before holds
        if lost:
            self._forget(log.stream, min(lost))
        if report.damage:
            report = move_aside(self.fs, report, self.quarantine)
        elif report.tail is not None:
            fd = self.fs.open_append(report.path)
            self.fs.truncate(fd, report.tail.offset)
            self.fs.fsync(fd)
            self.fs.close(fd)
        self._seen[report.path] = report
        return report

    def _rebuild_dedup(self, log: _Log) -> None:
        log.dedup = DedupWindow(self.dedup_window, log.end)
        tail = list(self.read_events(log.stream, log.dedup.start))
        if tail:
            seqs, events = zip(*tail, strict=True)
            log.dedup.load(seqs, identity_keys(events))

    # -- write side -------------------------------------------------------------------------

    def append(self, events: Iterable[Event] | EncodedBatch) -> Ticket:
        """Buffer a batch (nothing is durable until `commit`); duplicates are counted, not kept,
        and events no frame can hold are refused (`Ticket.refused`). Each stream's share of the
        batch becomes one frame: one encode call and one CRC. A batch its producer encoded (see
        `encoded.py`) is framed as it came, re-encoded only where dedup drops some events."""
        if self.readonly:
            raise StorageError("the store is open read-only")
        if isinstance(events, EncodedBatch):
            shares, size = list(map(self._share_of, events.parts)), events.size
        else:
            batch = events if isinstance(events, list) else list(events)
            shares = [self._encode(log, group, kind) for log, group, kind in self._groups(batch)]
            size = len(batch)
        stored, refused = 0, []
        for share in shares:
            self._hold(share)
            stored += len(share.keys)
            refused += share.refused
        ticket = Ticket(self._next_ticket, stored, size - stored - len(refused), tuple(refused))
        self._next_ticket += 1
        self._tickets.append(ticket)
        return ticket

    @staticmethod
    def _encode(log: _Log, group: list[Event], kind: type | None) -> _Share:
        """The group's fresh events, encoded; an event no frame can hold is refused alone."""
        keys = identity_keys(group, kind)
        fresh = log.dedup.fresh(keys)
        if fresh is not None:
            group, keys = [group[i] for i in fresh], [keys[i] for i in fresh]
        try:
            return _Share(log, records.encode_frames(group) if group else [], keys, [])
        except records.UNENCODABLE:
            bad = records.unencodable(group)
        good = [i for i in range(len(group)) if i not in bad]
        frames = records.encode_frames([group[i] for i in good]) if good else []
        refused = [Refusal(group[i], why) for i, why in bad.items()]
        return _Share(log, frames, [keys[i] for i in good], refused)

    def _share_of(self, part: StreamPart) -> _Share:
        """A producer-encoded part: its payload framed as is when all its events are fresh, else
        only the fresh items (raw msgpack, not decoded to events) re-encoded."""
        log = self._logs.get(part.stream) or self._new_log(part.stream)
        fresh = log.dedup.fresh(part.keys)
        if fresh is None:
            return _Share(log, [records.encode(part.payload)], part.keys, [])
        if not fresh:
            return _Share(log, [], [], [])
        items = records.RAW_DECODER.decode(part.payload)
        frames = records.encode_frames([items[i] for i in fresh])
        return _Share(log, frames, [part.keys[i] for i in fresh], [])

    def _hold(self, share: _Share) -> None:
        if not share.frames:
            return
        log, size = share.log, sum(map(len, share.frames))
        log.pending += share.frames
        log.pending_bytes += size
        log.pending_events += len(share.keys)
        log.dedup.hold(share.keys)
        self.pending_bytes += size

    def _groups(self, batch: list[Event]) -> list[tuple[_Log, list[Event], type | None]]:
        """The batch split by stream (see `encoded.split_by_stream`), with each stream's log."""
        return [
            (self._logs.get(stream) or self._new_log(stream), group, kind)
            for stream, group, kind in split_by_stream(batch, self._stream_of)
        ]

    def _stream_of(self, event: Event) -> Stream:
        """`stream_of`, cached by type/venue/symbol except for Gaps, whose family depends on
        their `stream` field."""
        stream = self._route.get((type(event), event.venue, event.symbol))
        if stream is None:
            stream = stream_of(event)
            if not isinstance(event, Gap):
                self._route[(type(event), event.venue, event.symbol)] = stream
        return stream

    def _new_log(self, stream: Stream) -> _Log:
        log = _Log(
            stream, os.path.join(self.root, stream.dirname), [], DedupWindow(self.dedup_window)
        )
        self._logs[stream] = log
        return log

    @property
    def pending_tickets(self) -> int:
        return len(self._tickets)

    def commit(self) -> list[Ticket]:
        """Make every pending record durable, then acknowledge and return the pending tickets."""
        touched = [log for log in self._logs.values() if log.pending or log.broken]
        tickets, self._tickets = self._tickets, []
        try:
            for log in touched:
                self._write(log)
            for log in touched:
                if log.pending:
                    self.fs.fsync(log.fd)  # type: ignore[arg-type]
        except OSError as exc:
            for log in touched:
                self._rollback(log)
            self.pending_bytes = 0
            raise storage_error(exc, "WAL commit", tuple(t.number for t in tickets)) from exc
        for log in touched:
            log.end += log.pending_events
            log.size += log.pending_bytes
            log.pending.clear()
            log.pending_bytes = log.pending_events = 0
            log.dedup.commit()
        self.pending_bytes = 0
        if tickets:
            self.acked = tickets[-1].number
        return tickets

    def _write(self, log: _Log) -> None:
        if log.broken:
            self._truncate_to_durable(log)
        if not log.pending:
            return
        full = log.size > 0 and log.size + log.pending_bytes > self.segment_bytes
        if log.fd is not None and full:
            self.fs.close(log.fd)
            log.fd = None
        if log.fd is None:
            if log.segments and not full:
                log.fd = self.fs.open_append(log.segment_path(log.segments[-1]))
            else:
                self._start_segment(log)
        data = log.pending[0] if len(log.pending) == 1 else b"".join(log.pending)
        self.fs.write(log.fd, data)  # type: ignore[arg-type]
        while log.unsynced_dirs:
            self.fs.fsync_dir(log.unsynced_dirs[0])
            log.unsynced_dirs.pop(0)

    def _start_segment(self, log: _Log) -> None:
        new_dir = not log.segments
        if new_dir:
            self.fs.makedirs(log.path)
        log.fd = self.fs.open_append(log.segment_path(log.end))
        log.segments.append(log.end)
        log.size = 0
        log.unsynced_dirs += [log.path, self.root] if new_dir else [log.path]

    def _rollback(self, log: _Log) -> None:
        log.pending.clear()
        log.pending_bytes = log.pending_events = 0
        log.dedup.rollback()
        try:
            self._truncate_to_durable(log)
        except OSError:
            log.broken = True

    def _truncate_to_durable(self, log: _Log) -> None:
        if log.fd is not None:
            self.fs.truncate(log.fd, log.size)
        log.broken = False

    # -- read side --------------------------------------------------------------------------

    def streams(self) -> list[Stream]:
        return sorted(self._logs)

    def positions(self) -> dict[Stream, int]:
        """Durable end (next seq) of every stream; readonly stores report what open() saw, or
        what `follow` was told since."""
        return {s: log.end for s, log in self._logs.items()}

    def firsts(self) -> dict[Stream, int]:
        """The first seq each stream still holds (retention removes older segments)."""
        return {s: log.segments[0] for s, log in self._logs.items() if log.segments}

    def tails(self) -> dict[Stream, Tail]:
        """Durable end and newest segment of every stream: what a read-only WAL in another
        process needs (`follow`) to read up to here without listing or scanning anything."""
        return {s: Tail(log.end, log.segments[-1]) for s, log in self._logs.items() if log.segments}

    def follow(self, tails: Mapping[Stream, Tail]) -> None:
        """Read-only: the streams end where the writer's `tails()` said (durable data only,
        never bytes a failed commit may still take back); new streams and segments are
        picked up from them."""
        if not self.readonly:
            raise LocalMisuse("only a read-only WAL follows another one's tails")
        for stream, tail in tails.items():
            log = self._logs.get(stream)
            if log is None:
                log = self._load(stream)
            if log.segments and log.segments[-1] > tail.segment:
                continue  # listed after the writer's report: already newer
            if not log.segments or log.segments[-1] < tail.segment:
                log.segments.append(tail.segment)
            log.end = max(log.end, tail.end)

    def cap(self, ends: Mapping[Stream, int]) -> None:
        """Read-only: read no stream beyond `ends` (what a writer has acknowledged as durable;
        a stream it does not name is read up to nothing): the bytes of a commit in progress
        are on disk before they are durable."""
        if not self.readonly:
            raise LocalMisuse("only a read-only WAL is capped")
        for stream, log in self._logs.items():
            log.end = min(log.end, ends.get(stream, 0))

    def read(
        self, stream: Stream, start: int = 0, stop: int | None = None
    ) -> Iterator[tuple[int, bytes]]:
        """(seq, msgpack payload of one event) of durable events start <= seq < stop, in order."""
        for seq, raw in self._read(stream, start, stop, records.RAW_DECODER):
            yield seq, bytes(raw)

    def read_events(
        self, stream: Stream, start: int = 0, stop: int | None = None
    ) -> Iterator[tuple[int, Event]]:
        return self._read(stream, start, stop, records.PAYLOAD_DECODER)

    def _read(
        self, stream: Stream, start: int, stop: int | None, decoder: msgspec.msgpack.Decoder
    ) -> Iterator[tuple[int, Any]]:
        for seq, frame, limit in self._frames(stream, start, stop):
            items = decoder.decode(frame.payload)
            for i in range(max(start - seq, 0), min(limit - seq, frame.count)):
                yield seq + i, items[i]

    def _frames(
        self, stream: Stream, start: int, stop: int | None
    ) -> Iterator[tuple[int, records.Frame, int]]:
        """(first seq, frame, the seq its segment's share of the read stops at) of the durable
        frames holding seqs start..stop, segment after segment (see `_segment_frames`)."""
        log = self._logs.get(stream)
        if log is None:
            return
        stop = log.end if stop is None else min(stop, log.end)
        firsts = log.segments
        for i, first in enumerate(firsts):
            nxt = firsts[i + 1] if i + 1 < len(firsts) else stop
            if nxt <= start or first >= stop:
                continue
            limit = min(stop, nxt)
            for seq, frame in self._segment_frames(log, i, max(start, first), limit):
                yield seq, frame, limit

    def _segment_frames(
        self, log: _Log, index: int, start: int, stop: int
    ) -> Iterator[tuple[int, records.Frame]]:
        """(first seq, frame) of the segment's frames holding seqs start..stop. Frames before
        `start` are CRC-checked and counted but not yielded. Unreadable bytes are skipped (as a
        repair would remove them) and noted once, like a segment that ends before `stop` (a
        hole, or a missing segment after it)."""
        seq, offset = log.segments[index], 0
        resume = log.resume
        if resume is not None and resume.segment == seq and resume.seq <= start:
            seq, offset = resume.seq, resume.offset
        with self.fs.open_read(log.segment_path(log.segments[index])) as f:
            for item in records.walk(f, offset):
                if isinstance(item, records.Unreadable):
                    self._note(log, index)
                    continue
                if seq + item.count > start:
                    yield seq, item
                seq += item.count
                log.resume = _Resume(log.segments[index], seq, item.end)  # a read cut short too
                if seq >= stop:
                    return
        self._note(log, index)

    # -- replication ------------------------------------------------------------------------

    def read_frames(
        self, stream: Stream, start: int, stop: int | None = None
    ) -> Iterator[tuple[int, int, bytes]]:
        """(first seq, event count, whole frame) of the durable records holding seqs
        start..stop, in order: what a primary ships to its followers (the first may begin
        before `start`)."""
        for seq, frame, _ in self._frames(stream, start, stop):
            yield seq, frame.count, records.encode(frame.payload)

    def next_seq(self, stream: Stream) -> int:
        """Where the stream's next appended event goes (durable end plus what is pending)."""
        log = self._logs.get(stream)
        return 0 if log is None else log.end + log.pending_events

    def append_frame(self, stream: Stream, seq: int, frame: bytes, count: int) -> None:
        """A replica's append: a primary's record (checked by the caller), stored as it came, at
        the seq the primary gave it; nothing is deduplicated (the primary did that). A record
        past the stream's end starts a new segment there: the primary holds nothing in between
        (a known hole, or what its retention removed)."""
        if self.readonly:
            raise StorageError("the store is open read-only")
        log = self._logs.get(stream) or self._new_log(stream)
        end = log.end + log.pending_events
        if seq < end or (seq > end and log.pending):
            raise LocalMisuse(f"{stream}: a record at {seq} cannot follow {end} (pending or held)")
        if seq > end:
            if log.fd is not None:
                self.fs.close(log.fd)
                log.fd = None
            log.end = seq
            self._start_segment(log)
        log.pending.append(frame)
        log.pending_bytes += len(frame)
        log.pending_events += count
        self.pending_bytes += len(frame)

    def cut(self, stream: Stream, seq: int) -> list[bytes]:
        """Remove the stream's records from `seq` on and return them as frames (the caller keeps
        them aside): a demoted primary's records that the new primary never had. The followers
        (projections) forget them first. A record holding seqs on both sides is split."""
        if self.readonly:
            raise StorageError("the store is open read-only")
        log = self._logs.get(stream)
        if log is None or seq >= log.end:
            return []
        if log.pending:
            raise LocalMisuse(f"{stream}: commit before cutting the log")
        self._forget(stream, seq)
        if log.fd is not None:
            self.fs.close(log.fd)
            log.fd = None
        log.resume = None
        removed: list[bytes] = []
        while log.segments and log.segments[-1] >= seq:
            path = log.segment_path(log.segments.pop())
            removed[:0] = self._frames_in(path)
            self.fs.remove(path)
        log.size = self._cut_segment(log, seq, removed) if log.segments else 0
        self.fs.fsync_dir(log.path)
        log.end = seq
        self._rebuild_dedup(log)
        return removed

    def _frames_in(self, path: str) -> list[bytes]:
        with self.fs.open_read(path) as f:
            return [
                records.encode(i.payload) for i in records.walk(f) if isinstance(i, records.Frame)
            ]

    def _cut_segment(self, log: _Log, seq: int, removed: list[bytes]) -> int:
        """Truncate the newest segment before `seq`, putting what was cut (as frames) in front
        of `removed`; returns the segment's new size."""
        path = log.segment_path(log.segments[-1])
        at, offset, kept, cut_off = log.segments[-1], None, [], []
        with self.fs.open_read(path) as f:
            for item in records.walk(f):
                if not isinstance(item, records.Frame):
                    continue
                if offset is None and at + item.count > seq:
                    offset = item.offset
                    items = records.RAW_DECODER.decode(item.payload)
                    kept = records.encode_frames(items[: seq - at]) if seq > at else []
                    cut_off += records.encode_frames(items[max(seq - at, 0) :])
                elif offset is not None:
                    cut_off.append(records.encode(item.payload))
                at += item.count
        removed[:0] = cut_off
        if offset is None:
            return self.fs.size(path)
        fd = self.fs.open_append(path)
        try:
            self.fs.truncate(fd, offset)
            for frame in kept:
                self.fs.write(fd, frame)
            self.fs.fsync(fd)
        finally:
            self.fs.close(fd)
        return offset + sum(map(len, kept))

    def _note(self, log: _Log, index: int) -> None:
        if log.segment_path(log.segments[index]) not in self._seen:
            log_problems(self._inspect(log, index).problems())

    def _inspect(self, log: _Log, index: int) -> SegmentReport:
        first = log.segments[index]
        stop = log.segments[index + 1] if index + 1 < len(log.segments) else None
        report = inspect(self.fs, log.stream, log.segment_path(first), first, stop)
        self._seen[report.path] = report
        return report

    def problems(self) -> list[str]:
        """What recovery and the reads so far found wrong (and what was done about it)."""
        return [line for report in self._seen.values() for line in report.problems()]

    # -- damage ----------------------------------------------------------------------------

    def inspect(self, stream: Stream) -> list[SegmentReport]:
        """Every segment of the stream, read whole: records, bytes, damage, missing segments."""
        log = self._logs[stream]
        return [self._inspect(log, i) for i in range(len(log.segments))]

    def repair(self, stream: Stream) -> list[SegmentReport]:
        """Move the damage of the stream's sealed segments aside and mark the seqs they lack as
        known holes (recovery already mended the newest); returns what was repaired."""
        if self.readonly:
            raise StorageError("the store is open read-only")
        log = self._logs[stream]
        repaired = []
        for report in self.inspect(stream)[:-1]:
            if report.damaged:
                repaired.append(self._mend(log, report))
                self._mark_hole(log, repaired[-1])
        if repaired:
            self._rebuild_dedup(log)
        return repaired

    def _mark_hole(self, log: _Log, report: SegmentReport) -> None:
        """An empty segment file where the seqs a sealed segment lacks begin: a known hole. (A
        segment left without records is that hole itself.)"""
        if not report.lacking or not report.events:
            return
        first = report.first + report.events
        write_file(self.fs, log.segment_path(first), [])
        self.fs.fsync_dir(log.path)
        bisect.insort(log.segments, first)

    # -- retention and shutdown -------------------------------------------------------------

    def remove_sealed(
        self, stream: Stream, consumed: int, older_than_ns: int | None, limit: int | None = None
    ) -> list[str]:
        """Remove (at most `limit`, oldest first) sealed segments whose records all lie below
        `consumed` and, if given, whose file was last written before `older_than_ns`; the active
        segment always stays."""
        log = self._logs[stream]
        log.resume = None
        removed: list[str] = []
        while len(log.segments) > 1 and log.segments[1] <= consumed and limit != len(removed):
            path = log.segment_path(log.segments[0])
            if older_than_ns is not None and self.fs.mtime_ns(path) >= older_than_ns:
                break
            self.fs.remove(path)
            log.segments.pop(0)
            removed.append(path)
        if removed:
            self.fs.fsync_dir(log.path)
        return removed

    def written_ns(self, stream: Stream, seq: int) -> int | None:
        """When the segment holding `seq` was last written (None: the log holds no such seq)."""
        log = self._logs.get(stream)
        index = bisect.bisect_right(log.segments, seq) - 1 if log else -1
        if log is None or index < 0 or seq >= log.end:
            return None
        return self.fs.mtime_ns(log.segment_path(log.segments[index]))

    def segment_sizes(self, stream: Stream) -> list[tuple[str, int]]:
        log = self._logs[stream]
        return [(p, self.fs.size(p)) for p in map(log.segment_path, log.segments)]

    def close(self) -> None:
        for log in self._logs.values():
            if log.fd is not None:
                self.fs.close(log.fd)
                log.fd = None
        if self._lock_fd is not None:
            self.fs.close(self._lock_fd)
            self._lock_fd = None
