"""JSONL projection: `jsonl/<date>/<venue>/<symbol>/<family>.jsonl`, one `to_json` event per line,
for plain-text tools (grep, jq). A log follower (`follow.py`): its saved positions are where it
goes on, and it reads the WAL in bounded batches. Appends are idempotent across crashes: the state
records every file's size, and a refresh first truncates each file back to it before appending
again. A file holds one stream, so its lines are in stored order whatever the merge across
streams."""

from __future__ import annotations

import os
from collections import defaultdict
from urllib.parse import quote

from mdc.events import to_json
from mdc.store.follow import FollowBatch, Follower, Position
from mdc.store.parquet import day
from mdc.store.projection import Aside, ProjectionState
from mdc.store.streams import Stream
from mdc.store.wal import WAL


class JsonlProjection:
    def __init__(self, data_dir: str, batch_events: int = 20_000) -> None:
        self.root = os.path.join(data_dir, "jsonl")
        self.batch_events = batch_events  # what one follower batch holds in memory

    def refresh(self, wal: WAL) -> int:
        """Follow the WAL from the saved positions and append every new record, fsync what was
        written, then save the positions; returns how many lines were written."""
        state = ProjectionState.load(self.root)
        for rel, size in state.extra.items():
            path = os.path.join(self.root, rel)
            if os.path.exists(path) and os.path.getsize(path) != size:
                os.truncate(path, size)
        written, touched = 0, set()
        with Follower(wal, Position.of(state.positions)) as follower:
            while batch := follower.next_batch(self.batch_events):
                for rel, chunk in _lines(batch).items():
                    state.extra[rel] = _append(os.path.join(self.root, rel), chunk)
                    touched.add(rel)
                written += len(batch)
            state.advance(follower.position.as_dict())
        for rel in sorted(touched):
            _fsync(os.path.join(self.root, rel))
        if written:
            state.save(self.root)
        return written

    def rewind(self, stream: Stream, seq: int, aside: Aside) -> None:
        """Take back the stream's lines from `seq` on. Lines carry no seq, so all of the stream's
        files go aside and the next refresh writes it again from the start of its log."""
        state = ProjectionState.load(self.root)
        if state.positions.get(stream, 0) <= seq:
            return
        for rel in [r for r in state.extra if r.split(os.sep, 1)[-1] == _file(stream)]:
            if os.path.exists(os.path.join(self.root, rel)):
                aside.move(os.path.join(self.root, rel))
            del state.extra[rel]
        state.positions[stream] = 0
        state.save(self.root)


def _file(stream: Stream) -> str:
    """A stream's file below its date directory."""
    symbol = quote(stream.symbol, safe="") or "_"
    return os.path.join(quote(stream.venue, safe=""), symbol, f"{stream.family}.jsonl")


def _lines(batch: FollowBatch) -> dict[str, bytes]:
    """The batch's lines by file (one per stream and date), in stored order."""
    lines: dict[str, list[bytes]] = defaultdict(list)
    for (stream, _), event in batch.items:
        lines[os.path.join(day(event.ts_event), _file(stream))].append(to_json(event) + b"\n")
    return {rel: b"".join(chunk) for rel, chunk in lines.items()}


def _append(path: str, data: bytes) -> int:
    """Append without fsync (the refresh syncs each file once, before saving its size)."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "ab") as f:
        f.write(data)
        return f.tell()


def _fsync(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
