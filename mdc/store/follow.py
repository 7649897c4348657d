"""Log followers: whatever needs the durable stream reads the WAL from a position, at its own pace.

Projections, gRPC/WebSocket subscribers, the alert evaluator and replicas all follow the log the
same way: open a `Follower` at a `Position`, call `next_batch(max_events)`, process the batch, save
`batch.position`. An empty batch means caught up; the caller decides how to wait (the core never
sleeps). A follower restarted at a saved position neither misses nor repeats an event, and a slow
one costs the writer nothing: it only reads records that are already durable.

Order: a batch merges the followed streams by `ts_recv`, stored order within a stream, ties by
stream (venue, family, symbol): the order of `Store.iter_events`, so following a finished log and
replaying it give the same sequence. While the log grows, the merge can only order what is durable:
an event appended to stream A later, with an older `ts_recv` than one already delivered from
stream B, comes "late", after it. Positions are per stream, so it is neither missed nor repeated.

Filter: an event `keep` refuses is skipped as it is read, before the merge, as if it were not
stored (the position moves past it): a follower with `keep` gives the same sequence as
`Store.iter_events` with the same time and type bounds.

Reads: streams are chosen by name (`StreamFilter`) before anything is read, and each is read
lazily, one WAL record (one appended batch) at a time; a follower holds at most one record per
stream and the next event of each (to merge), whatever `max_events` and the backlog are. A stream's
reader stays open while it has a backlog; when a caught-up stream grows, it is reopened at its
position (the WAL then CRC-checks, without decoding, that segment's records before the position).

Position: per stream, the next seq to deliver; a stream it does not name is at 0, so streams that
appear later are followed from their first event. `to_bytes()` is msgpack `[1, {stream dirname:
seq}]`, sorted by stream and without zeros, so equal positions have equal bytes; `token()` is that
in base64url without padding, for APIs; `from_bytes`/`from_token` raise `BadPosition` for anything
else. A follower's position is saved under `DATA_DIR/followers/<name>.pos` (`FollowerState`).
"""

from __future__ import annotations

import base64
import binascii
import heapq
import os
import re
from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass
from typing import Annotated, NamedTuple

import msgspec

from mdc.errors import LocalMisuse
from mdc.events import Event
from mdc.store.projection import atomic_write
from mdc.store.streams import EVERY_STREAM, FAMILIES, Stream, StreamFilter
from mdc.store.wal import WAL

_FORMAT = 1
FOLLOWERS_DIR = "followers"
"""Under DATA_DIR: every named follower's saved position, `<name>.pos`."""
_DECODER = msgspec.msgpack.Decoder(tuple[int, dict[str, Annotated[int, msgspec.Meta(ge=0)]]])
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
_stream_pos = tuple.__new__  # StreamPos(stream, seq) without the Python-level __new__ (hot path)


class BadPosition(LocalMisuse):
    """A position token or file that `Position` did not write (junk from a client, or damage)."""


class StreamPos(NamedTuple):
    """Where one event is stored: its stream and its seq there."""

    stream: Stream
    seq: int


@dataclass(frozen=True, slots=True)
class Position:
    """Per stream, the next seq to deliver (sorted, zeros left out: a stream not named is at 0)."""

    seqs: tuple[tuple[Stream, int], ...] = ()

    @classmethod
    def of(cls, seqs: Mapping[Stream, int]) -> Position:
        if any(seq < 0 for seq in seqs.values()):
            raise BadPosition(f"a position holds no negative seq: {dict(seqs)}")
        return cls(tuple(sorted((stream, seq) for stream, seq in seqs.items() if seq)))

    @classmethod
    def start(cls) -> Position:
        """Everything, from the first event of every stream."""
        return cls()

    @classmethod
    def end(cls, wal: WAL) -> Position:
        """Live only: what becomes durable from now on (new streams from their start)."""
        return cls.of(wal.positions())

    def as_dict(self) -> dict[Stream, int]:
        return dict(self.seqs)

    def to_bytes(self) -> bytes:
        return msgspec.msgpack.encode((_FORMAT, {s.dirname: seq for s, seq in self.seqs}))

    @classmethod
    def from_bytes(cls, data: bytes) -> Position:
        try:
            version, seqs = _DECODER.decode(data)
        except msgspec.DecodeError as exc:
            raise BadPosition(f"not a position: {exc}") from exc
        if version != _FORMAT:
            raise BadPosition(f"position format {version} is not {_FORMAT}")
        return cls.of({stream_named(name): seq for name, seq in seqs.items()})

    def token(self) -> str:
        return base64.urlsafe_b64encode(self.to_bytes()).rstrip(b"=").decode("ascii")

    @classmethod
    def from_token(cls, token: str) -> Position:
        try:
            data = base64.b64decode(token + "=" * (-len(token) % 4), b"-_", validate=True)
        except (binascii.Error, ValueError) as exc:
            raise BadPosition(f"a position token is base64url: {exc}") from exc
        return cls.from_bytes(data)


def stream_named(dirname: str) -> Stream:
    """The stream a position names, checked: a dirname of three parts with a known family."""
    stream = Stream.from_dirname(dirname) if dirname.count("+") == 2 else None
    if stream is None or stream.family not in FAMILIES:
        raise BadPosition(f"a position names no stream {dirname!r}")
    return stream


@dataclass(frozen=True, slots=True)
class FollowBatch:
    """Up to `max_events` events, each with where it is stored, and the position after them:
    saved once they are processed, it restarts a follower at the next event."""

    items: list[tuple[StreamPos, Event]]
    position: Position

    @property
    def events(self) -> list[Event]:
        return [event for _, event in self.items]

    def __len__(self) -> int:
        return len(self.items)


@dataclass(slots=True)
class _Cursor:
    """One followed stream: its open reader (ending at `stop`), and whether its next event is
    already read ahead into the merge."""

    stream: Stream
    reader: Generator[tuple[int, Event], None, None] | None = None
    stop: int = 0
    merged: bool = False


class Follower:
    """Reads the durable events of the streams `only` lets through (and, given `keep`, only the
    events it keeps), from `position` on, in batches (see the module docstring for order, reads,
    positions and filters)."""

    def __init__(
        self,
        wal: WAL,
        position: Position,
        only: StreamFilter = EVERY_STREAM,
        keep: Callable[[Event], bool] | None = None,
    ) -> None:
        self._wal = wal
        self._only = only
        self._keep = keep
        self._seqs = position.as_dict()  # streams left out keep their seq
        self._cursors: dict[Stream, _Cursor] = {}
        # (ts_recv, stream, seq, event, cursor): one per stream, so never compared past stream
        self._merge: list[tuple[int, Stream, int, Event, _Cursor]] = []

    @property
    def position(self) -> Position:
        """Where the next batch starts: after everything delivered so far."""
        return Position.of(self._seqs)

    def next_batch(self, max_events: int) -> FollowBatch:
        """The next durable events, at most `max_events`; empty when caught up."""
        if max_events < 1:
            raise LocalMisuse(f"max_events must be at least 1, not {max_events}")
        ends = {s: end for s, end in self._wal.positions().items() if self._only.matches(s)}
        for stream, end in ends.items():
            cursor = self._cursors.setdefault(stream, _Cursor(stream))
            if not cursor.merged:
                self._read_ahead(cursor, end)
        items: list[tuple[StreamPos, Event]] = []
        merge, seqs, keep = self._merge, self._seqs, self._keep
        while merge and len(items) < max_events:
            _, stream, seq, event, cursor = merge[0]
            items.append((_stream_pos(StreamPos, (stream, seq)), event))
            seqs[stream] = seq + 1
            # The usual case inline (the open reader's next event, kept); `_read_ahead` the rest.
            ahead = next(cursor.reader, None) if cursor.reader is not None else None
            if ahead is not None and (keep is None or keep(ahead[1])):
                seq, event = ahead
                heapq.heapreplace(merge, (event.ts_recv, stream, seq, event, cursor))
            else:
                heapq.heappop(merge)
                self._read_ahead(cursor, ends[stream], ahead)
        return FollowBatch(items, self.position)

    def _read_ahead(
        self, cursor: _Cursor, end: int, ahead: tuple[int, Event] | None = None
    ) -> None:
        """Put the stream's next kept event below `end` into the merge, if it has one (the seq
        moves past those `keep` refuses); `ahead` is one already read from its reader. A reader
        that runs out has covered its range, holes included, so the stream's seq moves to its
        stop."""
        while True:
            if ahead is None:
                if cursor.reader is None:
                    start = self._seqs.get(cursor.stream, 0)
                    if start >= end:
                        cursor.merged = False
                        return
                    cursor.reader = self._wal.read_events(cursor.stream, start, end)
                    cursor.stop = end
                ahead = next(cursor.reader, None)
                if ahead is None:
                    self._seqs[cursor.stream] = cursor.stop
                    cursor.reader = None
                    continue
            if self._keep is None or self._keep(ahead[1]):
                seq, event = ahead
                heapq.heappush(self._merge, (event.ts_recv, cursor.stream, seq, event, cursor))
                cursor.merged = True
                return
            self._seqs[cursor.stream] = ahead[0] + 1
            ahead = None

    def close(self) -> None:
        """Close the open readers (and their segment files)."""
        for cursor in self._cursors.values():
            if cursor.reader is not None:
                cursor.reader.close()
                cursor.reader = None

    def __enter__(self) -> Follower:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@dataclass(frozen=True, slots=True)
class FollowerState:
    """A named follower's saved position: `DATA_DIR/followers/<name>.pos` holds its `to_bytes()`,
    replaced atomically, so a crash leaves the old position or the new one."""

    path: str

    @classmethod
    def named(cls, data_dir: str, name: str) -> FollowerState:
        if not _NAME.fullmatch(name):
            raise LocalMisuse(f"follower name {name!r}: letters, digits, '.', '_', '-' only")
        return cls(os.path.join(data_dir, FOLLOWERS_DIR, f"{name}.pos"))

    def load(self, default: Position) -> Position:
        """The saved position, or `default` (start or end: the caller's choice) if none is."""
        try:
            with open(self.path, "rb") as f:
                return Position.from_bytes(f.read())
        except FileNotFoundError:
            return default

    def save(self, position: Position) -> None:
        atomic_write(self.path, position.to_bytes())
