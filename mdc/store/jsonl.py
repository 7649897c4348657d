"""JSONL projection: `jsonl/<date>/<venue>/<symbol>/<family>.jsonl`, one `to_json` event per line,
for plain-text tools (grep, jq). Appends are idempotent across crashes: the state records every
file's size, and a refresh first truncates each file back to it before appending again."""

from __future__ import annotations

import os
from collections import defaultdict
from urllib.parse import quote

from mdc.events import to_json
from mdc.store.parquet import day
from mdc.store.projection import ProjectionState, pending_ranges
from mdc.store.streams import FAMILIES
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
                rel = os.path.join(
                    day(event.ts_event),
                    quote(stream.venue, safe=""),
                    quote(stream.symbol, safe="") or "_",
                    f"{stream.family}.jsonl",
                )
                lines[rel].append(to_json(event) + b"\n")
            for rel, chunk in sorted(lines.items()):
                state.extra[rel] = _append(os.path.join(self.root, rel), b"".join(chunk))
                written += len(chunk)
            state.positions[stream] = stop
        if written:
            state.save(self.root)
        return written


def _append(path: str, data: bytes) -> int:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "ab") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
        return f.tell()
