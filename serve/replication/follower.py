"""The follower process (`mdc replicate`): a store that tails a primary's log over gRPC.

One loop: connect, say Hello (where this log ends, the epoch it knows), check the primary's
epoch and history (refuse an older primary; cut and put aside what diverged, then reconnect),
then apply chunk after chunk (`mdc.replication.apply`), one fsync each, and acknowledge. The
projections (Parquet, bars, checkpoints) are rebuilt locally from the log every `refresh_s`.
Lag (events, seconds, heartbeat age) is written to `DATA_DIR/replica-status.json` and shown as
progress on stderr.

Failures: a refused key, an unreachable or silent primary (no heartbeat for `silence_s`), a
damaged record: said once per kind of failure, then retried with backoff, nothing of a bad
chunk applied. A primary that no longer holds the position asked for (retention): re-bootstrap
from its first retained records (the gap is a known hole), or, with `rebootstrap` off, retry
until an operator acts. An epoch conflict stops the process (exit 1): it needs a decision.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import sys
import time
from dataclasses import dataclass
from typing import IO

import grpc

from mdc.backoff import Backoff
from mdc.replication.apply import Applier, BadRecord
from mdc.replication.epochs import (
    EpochConflict,
    EpochStart,
    ReplicationState,
    Role,
    check_primary,
    divergence,
)
from mdc.replication.lag import LagTracker
from mdc.store import Store, records
from mdc.store.follow import stream_named
from mdc.store.projection import atomic_write
from mdc.store.streams import Stream
from mdc.v1 import replication_pb2 as pb
from mdc.v1 import replication_pb2_grpc as pb_grpc
from serve.replication.server import dirnames

RECONNECT = Backoff(0.2, 5.0, floor=0.5)
STATUS_FILE = "replica-status.json"
DIVERGED_DIR = "diverged"
ACK_EVERY_S = 0.2
STATUS_EVERY_S = 0.5
_FAILURES = {
    grpc.StatusCode.UNAUTHENTICATED: "the primary wants an API key (set MDC_API_KEY)",
    grpc.StatusCode.PERMISSION_DENIED: "the primary refused our API key (set MDC_API_KEY)",
    grpc.StatusCode.UNAVAILABLE: "the primary is unreachable",
    grpc.StatusCode.DEADLINE_EXCEEDED: "the primary is unreachable",
}


class Reconnect(Exception):
    """End this connection and open another at once (after a cut, the log's ends moved)."""


@dataclass(frozen=True)
class FollowerConfig:
    target: str  # HOST:PORT of the primary's gRPC
    data_dir: str
    name: str = "replica"
    api_key: str | None = None
    rebootstrap: bool = True
    silence_s: float = 10.0
    refresh_s: float = 5.0
    progress_s: float = 5.0
    exit_when_caught_up: bool = False


class ReplicaFollower:
    def __init__(self, config: FollowerConfig, err: IO[str] = sys.stderr) -> None:
        self.config = config
        self._err = err
        self.lag = LagTracker()
        self._rng = random.Random()
        self._bootstrap = False
        self._said: set[str] = set()
        self._ends: dict[str, int] = {}  # the log's durable ends, as last read on the loop

    def say(self, text: str) -> None:
        print(f"mdc replicate: {text}", file=self._err, flush=True)

    async def run(self, stop: asyncio.Event) -> int:
        """Follow until `stop` is set (or caught up, if so configured); the exit status."""
        store = await asyncio.to_thread(Store.open, self.config.data_dir)
        self._ends = dirnames(store.wal.positions())
        status = asyncio.create_task(self._report_status())
        try:
            return await self._follow(store, stop)
        except EpochConflict as exc:
            self.say(f"stopped: {exc}")
            return 1
        finally:
            status.cancel()
            self.say("stopping: rebuilding the projections")
            await asyncio.to_thread(store.refresh)
            self._write_status()
            store.close()

    async def _report_status(self) -> None:
        """The status file every STATUS_EVERY_S, connected or not: the heartbeat's age keeps
        growing through a partition, for whoever watches the file."""
        while True:
            await asyncio.to_thread(self._write_status)
            await asyncio.sleep(STATUS_EVERY_S)

    async def _follow(self, store: Store, stop: asyncio.Event) -> int:
        attempt = 0
        while not stop.is_set():
            try:
                if await self._connection(store, stop):
                    return 0
                attempt = 0
            except Reconnect:
                attempt = 0
                continue
            except BadRecord as exc:
                self._once("bad", f"{exc}: nothing of that chunk applied; reconnecting")
            except grpc.RpcError as exc:
                self._failed(exc)
            except TimeoutError:
                self._once("silent", f"no heartbeat for {self.config.silence_s:g}s; reconnecting")
            delay = RECONNECT.delay(attempt, self._rng)
            attempt += 1
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), delay)
        return 0

    def _failed(self, exc: grpc.RpcError) -> None:
        code, details = exc.code(), exc.details() or ""  # type: ignore[attr-defined]
        if code is grpc.StatusCode.FAILED_PRECONDITION:
            raise EpochConflict(details)
        if code is grpc.StatusCode.OUT_OF_RANGE:
            self._bootstrap = self.config.rebootstrap
            tail = "re-bootstrapping" if self._bootstrap else "retrying (--no-rebootstrap)"
            self._once("dropped", f"{details}; {tail}")
            return
        why = _FAILURES.get(code, f"the primary failed ({code.name})")
        self._once(code.name, f"{why}: {details}; retrying")

    def _once(self, kind: str, text: str) -> None:
        """Say a failure once per kind until something goes right again."""
        if kind not in self._said:
            self._said.add(kind)
            self.say(text)

    async def _connection(self, store: Store, stop: asyncio.Event) -> bool:
        """One stream from the primary; True when done (caught up, if asked to stop then)."""
        config = self.config
        metadata = [("x-api-key", config.api_key)] if config.api_key else []
        state = ReplicationState.load(config.data_dir)
        async with grpc.aio.insecure_channel(config.target) as channel:
            call = pb_grpc.ReplicationServiceStub(channel).FollowLog(metadata=metadata)
            try:
                await asyncio.wait_for(call.write(self._hello(store, state)), config.silence_s)
                first = await asyncio.wait_for(call.read(), config.silence_s)
                if first is grpc.aio.EOF:
                    raise Reconnect
                await self._adopt(store, state, first)
                return await self._apply_chunks(store, call, stop)
            finally:
                call.cancel()

    def _hello(self, store: Store, state: ReplicationState) -> pb.FollowMessage:
        ends = dirnames(store.wal.positions())
        hello = pb.Hello(
            follower=self.config.name,
            ends=ends,
            epoch=state.epoch,
            from_first_retained=self._bootstrap,
        )
        return pb.FollowMessage(hello=hello)

    async def _adopt(self, store: Store, state: ReplicationState, first: pb.LogChunk) -> None:
        """Check the primary's epoch, cut what diverged (then reconnect), become its follower."""
        check_primary(state.epoch, first.epoch, self.config.target)
        history = tuple(EpochStart(e.epoch, dict(e.ends)) for e in first.history)
        cuts = divergence(state, dirnames(store.wal.positions()), history)
        if state.role is Role.PRIMARY and state.epoch < first.epoch:
            self.say(f"this store was a primary at epoch {state.epoch}: it follows now")
        new = state.following(self.config.target, first.epoch, history)
        if cuts:
            await asyncio.to_thread(self._put_aside, store, cuts, state.epoch)
        if new != state:
            new.save(self.config.data_dir)
        if cuts:
            raise Reconnect

    def _put_aside(self, store: Store, cuts: dict[str, int], epoch: int) -> None:
        """Cut the diverged records out of the log and keep them under DATA_DIR/diverged/."""
        folder = os.path.join(self.config.data_dir, DIVERGED_DIR, f"epoch{epoch}-{time.time_ns()}")
        total = 0
        for name, seq in sorted(cuts.items()):
            frames = store.wal.cut(stream_named(name), seq)
            atomic_write(os.path.join(folder, f"{name}+{seq}.seg"), b"".join(frames))
            total += sum(records.frame_count(f) or 0 for f in frames)
        self.say(
            f"{total} events written under epoch {epoch} after the failover were never "
            f"replicated: moved aside to {folder} (they are not in the new primary's log)"
        )

    async def _apply_chunks(self, store: Store, call, stop: asyncio.Event) -> bool:
        applier = Applier(store.wal)
        config = self.config
        acked = progress = refreshed = time.monotonic()
        while not stop.is_set():
            chunk = await asyncio.wait_for(call.read(), config.silence_s)
            if chunk is grpc.aio.EOF:
                raise Reconnect
            self._said.clear()
            self._bootstrap = False
            self.lag.heard(chunk.ends, chunk.sent_ns, time.time_ns())
            if chunk.records:
                received = [(r.stream, r.seq, r.frame) for r in chunk.records]
                self._ends = dirnames(await asyncio.to_thread(_apply, applier, received))
            self.lag.applied(self._ends)
            now = time.monotonic()
            if now - acked >= ACK_EVERY_S:
                acked = now
                ack = pb.FollowMessage(ack=pb.Ack(ends=self._ends))
                await asyncio.wait_for(call.write(ack), config.silence_s)
            if now - refreshed >= config.refresh_s:
                refreshed = now
                await asyncio.to_thread(store.refresh)
            if now - progress >= config.progress_s:
                progress = now
                self._progress(applier)
            if config.exit_when_caught_up and self.lag.report(time.time_ns()).events == 0:
                self.say(f"caught up with {config.target}")
                return True
        return True

    def _progress(self, applier: Applier) -> None:
        lag = self.lag.report(time.time_ns())
        self.say(
            f"applied {applier.applied} events; behind {lag.events} events, "
            f"{lag.seconds:.1f}s; heartbeat {lag.heartbeat_age_s or 0:.1f}s ago"
        )

    def _write_status(self) -> None:
        lag = self.lag.report(time.time_ns())
        body = {
            "primary": self.config.target,
            "lag_events": lag.events,
            "lag_seconds": lag.seconds,
            "heartbeat_age_s": lag.heartbeat_age_s,
            "ends": self._ends,
            "at_ns": time.time_ns(),
        }
        path = os.path.join(self.config.data_dir, STATUS_FILE)
        atomic_write(path, json.dumps(body, sort_keys=True).encode())


def _apply(applier: Applier, received: list[tuple[str, int, bytes]]) -> dict[Stream, int]:
    """Apply a chunk and make it durable; the log's ends after it."""
    applier.apply(received)
    return applier.commit()
