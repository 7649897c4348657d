"""What every projection shares: a directory, the WAL position it has consumed, drop and rebuild.

A projection is a pure function of the WAL records it consumed, applied stream by stream in
stored order, so refreshing incrementally and rebuilding from scratch give the same result.
Its state file (`_state.json`) maps each stream to the next seq it will consume; it is replaced
atomically after the projection's own files, so a crash in between only redoes work.

When the WAL loses or renumbers a stream's records from some seq on (damage, see `damage.py`), each
projection `rewind`s that stream: it takes back what it holds from that seq on, files first and
state last (so a crash only repeats the rewind), and the next refresh projects the log again.
What is taken back is set `Aside`, not deleted: it may be the only intact copy of lost records.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Mapping
from dataclasses import dataclass, field

from mdc.store.streams import Stream

STATE = "_state.json"


def atomic_write(path: str, data: bytes) -> None:
    """Replace `path` with `data` so a reader sees either the old or the new file, durably."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    fd = os.open(os.path.dirname(path), os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def append_line(path: str, line: bytes, mode: int = 0o644) -> None:
    """Append one line with a single write, durably: a small append-only file several
    processes add to (silences, undelivered notifications); a crash leaves at most a torn
    last line, which its readers skip."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, mode)
    try:
        os.write(fd, line + b"\n")
        os.fsync(fd)
    finally:
        os.close(fd)


@dataclass(slots=True)
class ProjectionState:
    """Next seq per stream, plus projection-specific extras (e.g. file sizes for JSONL)."""

    positions: dict[Stream, int] = field(default_factory=dict)
    extra: dict[str, int] = field(default_factory=dict)

    @classmethod
    def load(cls, directory: str) -> ProjectionState:
        path = os.path.join(directory, STATE)
        if not os.path.exists(path):
            return cls()
        with open(path, "rb") as f:
            raw = json.load(f)
        positions = {Stream.from_dirname(k): v for k, v in raw["positions"].items()}
        return cls(positions, raw.get("extra", {}))

    def advance(self, seqs: Mapping[Stream, int]) -> bool:
        """Move streams forward to `seqs` (a follower's position), never back; whether any
        moved (and the state needs saving)."""
        ahead = {s: seq for s, seq in seqs.items() if seq > self.positions.get(s, 0)}
        self.positions.update(ahead)
        return bool(ahead)

    def save(self, directory: str) -> None:
        raw = {
            "positions": {s.dirname: p for s, p in sorted(self.positions.items())},
            "extra": dict(sorted(self.extra.items())),
        }
        atomic_write(os.path.join(directory, STATE), json.dumps(raw, indent=1).encode())


@dataclass(frozen=True, slots=True)
class Aside:
    """Where projections put what they take back: `<data_dir>/quarantine/projections/<path>`
    (`.1`, `.2`, ... when that name is taken, so nothing set aside is ever overwritten)."""

    data_dir: str

    def move(self, path: str) -> None:
        os.replace(path, self._target(path))

    def copy(self, path: str) -> None:
        shutil.copy2(path, self._target(path))

    def _target(self, path: str) -> str:
        rel = os.path.relpath(path, self.data_dir)
        target = os.path.join(self.data_dir, "quarantine", "projections", rel)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        candidate, n = target, 0
        while os.path.exists(candidate):
            n += 1
            candidate = f"{target}.{n}"
        return candidate


def drop(directory: str) -> None:
    shutil.rmtree(directory, ignore_errors=True)
