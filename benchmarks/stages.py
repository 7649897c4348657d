"""Per-stage cost of the collector's path, timed in one process on recorded firehose frames.

Each stage runs alone over the same events and is divided by the events stored: parse (the
venue's decoder and trade continuity), sync and book (the same session with books tracked, less
parse), features (a FeatureTracker, as the BookActor runs it), encode (producer batches of 500 in
the WAL's format), writer (the store's submit and commit, fsync switched off) and fsync amortised
(one real fsync of a commit's bytes, divided by the events per fsync the Ray rounds reached),
projections (`Store.refresh`). Two rows come from the rounds: the actor hop (Ray's CPU per event
less one process's) and receive + event loop (one process's CPU per event less the timed stages).
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable
from pathlib import Path

from mdc.batching import BatchPolicy
from mdc.events import Event
from mdc.features import FeatureConfig, FeatureTracker
from mdc.simulator.firehose import Tape
from mdc.store import RealFS, Store
from mdc.store.encoded import EncodedBatch, encode_batch
from mdc.venues.base import HttpGet, SendText, Session, SessionConfig
from mdc.venues.registry import get_venue

BATCH = BatchPolicy().max_events


class NoSyncFS(RealFS):
    """The writer's work without the disk's wait."""

    def fsync(self, fd: int) -> None:
        return None

    def fsync_dir(self, path: str) -> None:
        return None


def payloads(tape: Tape) -> list[bytes]:
    """The websocket frames' payloads (unmasked server frames)."""
    data, pos, out = b"".join(tape.chunks), 0, []
    while pos < len(data):
        size, pos = data[pos + 1] & 0x7F, pos + 2
        if size >= 126:
            width = 2 if size == 126 else 8
            size, pos = int.from_bytes(data[pos : pos + width], "big"), pos + width
        out.append(data[pos : pos + size])
        pos += size
    return out


def connected_session(tape: Tape, session_config, track_books: bool) -> tuple[Session, list[Event]]:
    """A client session that has done the tape's handshake (replies and REST) already, and the
    events the handshake gave (in-stream snapshots)."""
    session = Session(get_venue(tape.venue), session_config, track_books=track_books)
    session.connected(0)
    replies = iter(tape.replies)
    inbox = list(next(replies))
    events: list[Event] = []
    for _ in range(len(tape.replies) + 2):
        for frame in inbox:
            events += session.receive(frame.encode(), 0)
        inbox = []
        for item in session.outbox():
            if isinstance(item, SendText):
                inbox += next(replies, ())
            elif isinstance(item, HttpGet):
                reply = tape.rest(item.path, dict(item.params), dict(item.headers))
                events += session.http_response(item, reply.status, reply.body.encode(), 0)
    return session, events


def _timed(work: Callable[[], object]) -> float:
    began = time.process_time()
    work()
    return time.process_time() - began


def feed(session: Session, tape: Tape, frame: bytes) -> list[Event]:
    """One frame in, as the connection does it: then the REST requests it asked for (a
    snapshot after the first deltas), answered as the venue stood at the tape's start."""
    events = session.receive(frame, 1)
    for item in session.outbox():
        if isinstance(item, HttpGet):
            reply = tape.rest(item.path, dict(item.params), dict(item.headers))
            events += session.http_response(item, reply.status, reply.body.encode(), 1)
    return events


def _receive_all(tape: Tape, frames: list[bytes], config, books: bool) -> tuple[float, list]:
    """CPU seconds of feeding every frame to a connected session, and the events out."""
    session, out = connected_session(tape, config, books)  # in-stream snapshots, untimed
    began = time.process_time()
    out += [event for frame in frames for event in feed(session, tape, frame)]
    return time.process_time() - began, out


def measure_stages(
    tapes: dict[str, Tape], configs: dict[str, SessionConfig], base: Path, rounds: list
) -> list[tuple[str, float]]:
    frames = {venue: payloads(tape) for venue, tape in tapes.items()}
    parse = books = 0.0
    events: list[Event] = []
    for venue, tape in tapes.items():
        parse += _receive_all(tape, frames[venue], configs[venue], False)[0]
        took, out = _receive_all(tape, frames[venue], configs[venue], True)
        books += took
        events += out
    n = len(events)
    tracker = FeatureTracker(FeatureConfig.default())
    features = _timed(lambda: [tracker.on_event(e) for e in events])
    batches = [events[i : i + BATCH] for i in range(0, n, BATCH)]
    encoded: list[EncodedBatch] = []
    encode = _timed(lambda: encoded.extend(encode_batch(b) for b in batches))
    store = Store.open(str(base / "nosync"), fs=NoSyncFS())
    writer = _timed(lambda: [store.append(b) for b in encoded])
    projections = _timed(store.refresh)
    store.close()
    ray = [r for r in rounds if r.mode == "ray"]
    local = [r for r in rounds if r.mode == "local"]
    per_fsync = statistics.median(
        r.saturated.events_per_s / max(r.saturated.fsyncs_per_s, 1e-9) for r in ray
    )
    stored_bytes = sum(len(p.payload) for b in encoded for p in b.parts)
    fsync_us = _fsync_us(base, int(stored_bytes / n * per_fsync))
    us = 1e6 / n
    timed = {
        "parse (decode + trade continuity)": parse * us,
        "sync and book": (books - parse) * us,
        "features (live, in the BookActor)": features * us,
        "encode (producer batches of 500)": encode * us,
        "writer (route, dedup, frame, CRC, write; no fsync)": writer * us,
    }
    from capacity import us_per_event

    local_us = statistics.median(us_per_event(r) for r in local)
    ray_us = statistics.median(us_per_event(r) for r in ray)
    return [
        ("receive + event loop (one process less the stages)", local_us - sum(timed.values())),
        *timed.items(),
        (f"fsync amortised (wall; {fsync_us:.0f} µs per fsync, {per_fsync:.0f} ev per fsync)",
         fsync_us / per_fsync),
        ("actor hop (Ray CPU per event less one process's)", ray_us - local_us),
        ("projections (Parquet, bars, JSONL, checkpoints; off the hot path)", projections * us),
    ]  # fmt: skip


def _fsync_us(base: Path, record_bytes: int, times: int = 50) -> float:
    """Wall time of write + fsync of one commit's bytes, median of `times`."""
    path = base / "fsync.bin"
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    took = []
    try:
        for _ in range(times):
            os.write(fd, b"x" * record_bytes)
            began = time.perf_counter()
            os.fsync(fd)
            took.append((time.perf_counter() - began) * 1e6)
    finally:
        os.close(fd)
    return statistics.median(took)
