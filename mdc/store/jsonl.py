"""JSONL projection: `jsonl/<date>/<venue>/<symbol>/<family>.jsonl`, one `to_json` event per line,
for plain-text tools (grep, jq). Appends are idempotent across crashes: the state records every
file's size, and a refresh first truncates each file back to it before appending again."""

from __future__ import annotations

import os
from collections import defaultdict
from urllib.parse import quote

from mdc.events import to_json
from mdc.store.parquet import day
from mdc.store.projection import Aside, ProjectionState, pending_ranges
from mdc.store.streams import FAMILIES, Stream
from mdc.store.wal import WAL


class JsonlProjection:
    def __init__(self, data_dir: str) -> None:
        self.root = os.path.join(data_dir, "jsonl")

    def refresh(self, wal: WAL) -> int:
        """Append every unconsumed record; returns how many lines were written."""
        state = ProjectionState.load(self.root)
        for rel, size in state.extra.items():
            path = os.path.join(self.root, rel)
            if os.path.exists(path) and os.path.getsize(path) != size:
                os.truncate(path, size)
        written = 0
        for stream, start, stop in pending_ranges(wal, state, FAMILIES):
            lines: dict[str, list[bytes]] = defaultdict(list)
            for _, event in wal.read_events(stream, start, stop):
                lines[os.path.join(day(event.ts_event), _file(stream))].append(
                    to_json(event) + b"\n"
                )
            for rel, chunk in sorted(lines.items()):
                state.extra[rel] = _append(os.path.join(self.root, rel), b"".join(chunk))
                written += len(chunk)
            state.positions[stream] = stop
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


def _append(path: str, data: bytes) -> int:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "ab") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
        return f.tell()
