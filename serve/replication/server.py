"""`mdc.v1.ReplicationService` on the collector's gRPC server: a primary's durable log, record
for record, to followers in other regions.

A follower's stream starts with a chunk carrying the primary's epoch, history and origin and no
records (the follower checks its epoch and cuts what diverged before anything is applied), then
the records from the follower's ends on, at most CHUNK_BYTES a chunk, then live: the service
waits on the hub's durable tails (no extra poll of the writer) and sends a heartbeat chunk with
its ends every HEARTBEAT_S while idle. The follower's acks are saved as its cursor
(`DATA_DIR/followers/replica-<name>.pos`), which retention honours up to its cap.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping

import grpc

from mdc.distribution.encode import varint
from mdc.errors import LocalMisuse
from mdc.replication.epochs import ReplicationState, Role, check_follower
from mdc.store.follow import BadPosition, FollowerState, Position, stream_named
from mdc.store.store import REPLICA_CURSOR_PREFIX
from mdc.store.streams import Stream
from mdc.store.wal import WAL
from mdc.v1 import replication_pb2 as pb
from serve.streaming.hub import Hub, open_durable_wal

log = logging.getLogger(__name__)

SERVICE = "mdc.v1.ReplicationService"
CHUNK_BYTES = 1 << 20
HEARTBEAT_S = 1.0
CURSOR_EVERY_S = 1.0
"""How often a follower's acknowledged ends are saved (an atomic file write each)."""


def dirnames(ends: Mapping[Stream, int]) -> dict[str, int]:
    return {s.dirname: seq for s, seq in ends.items()}


class ReplicationService:
    def __init__(
        self, data_dir: str, hub: Hub, authorize: Callable[[object], Awaitable[None]]
    ) -> None:
        self._data_dir = data_dir
        self._hub = hub
        self._authorize = authorize

    def handler(self) -> grpc.GenericRpcHandler:
        method = grpc.stream_stream_rpc_method_handler(
            self.follow_log,
            request_deserializer=pb.FollowMessage.FromString,  # responses are bytes already
        )
        return grpc.method_handlers_generic_handler(SERVICE, {"FollowLog": method})

    async def follow_log(self, requests, context) -> AsyncIterator[bytes]:
        await self._authorize(context)
        hello = await _hello(requests, context)
        state = ReplicationState.load(self._data_dir)
        await _check_roles(state, hello, context)
        version, tails = self._hub.tails
        wal = await asyncio.to_thread(open_durable_wal, self._data_dir, tails)
        acks: asyncio.Future | None = None
        try:
            yield _first_chunk(state, wal).SerializeToString()
            cursor = await _start(wal, hello, context)
            acks = asyncio.ensure_future(self._take_acks(requests, hello))
            turns: dict[Stream, int] = {}
            while True:
                ends = wal.positions()
                records = await asyncio.to_thread(_read, wal, ends, cursor, turns)
                yield chunk_bytes(state.epoch, records, dirnames(ends), time.time_ns())
                if records:
                    version, tails = self._hub.tails
                else:
                    version, tails = await self._hub.tails_after(version, HEARTBEAT_S)
                wal.follow(tails)
        finally:
            if acks is not None:
                acks.cancel()
            wal.close()

    async def _take_acks(self, requests, hello: pb.Hello) -> None:
        """Save the follower's durable ends as its cursor: those it connected with, then its
        acks, at most every CURSOR_EVERY_S, and the last one when the stream ends."""
        cursor = FollowerState.named(self._data_dir, REPLICA_CURSOR_PREFIX + hello.follower)
        await asyncio.to_thread(_save, cursor, hello.ends)
        saved, unsaved = time.monotonic(), None
        try:
            async for message in requests:
                if message.WhichOneof("kind") != "ack":
                    continue
                unsaved = message.ack.ends
                if time.monotonic() - saved >= CURSOR_EVERY_S:
                    await asyncio.to_thread(_save, cursor, unsaved)
                    saved, unsaved = time.monotonic(), None
        except grpc.RpcError:
            pass  # the stream ended badly: what was acknowledged is saved below
        finally:
            if unsaved is not None:
                _save(cursor, unsaved)  # one small file, as the call ends


def _save(cursor: FollowerState, ends: Mapping[str, int]) -> None:
    """A follower's acknowledged ends as its cursor (streams named by the follower, checked)."""
    try:
        cursor.save(Position.of({stream_named(s): seq for s, seq in ends.items()}))
    except BadPosition as exc:
        log.warning("replication: a follower acknowledged a bad position: %s", exc)


async def _hello(requests, context) -> pb.Hello:
    message = await anext(aiter(requests), None)
    if message is None or message.WhichOneof("kind") != "hello":
        await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "the first message is a Hello")
    try:
        FollowerState.named("", REPLICA_CURSOR_PREFIX + message.hello.follower)
    except LocalMisuse as exc:  # what `named` raises for a name that is no file name
        await context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"follower: {exc}")
    return message.hello


async def _check_roles(state: ReplicationState, hello: pb.Hello, context) -> None:
    if state.role is Role.FOLLOWER:
        await context.abort(
            grpc.StatusCode.FAILED_PRECONDITION,
            f"this store follows {state.primary}: follow its primary instead (replicas do "
            "not serve their log)",
        )
    refusal = check_follower(state.epoch, hello.epoch)
    if refusal is not None:
        log.warning("replication: refused follower %s: %s", hello.follower, refusal)
        await context.abort(grpc.StatusCode.FAILED_PRECONDITION, refusal)


def _first_chunk(state: ReplicationState, wal: WAL) -> pb.LogChunk:
    history = [pb.EpochStart(epoch=e.epoch, ends=dict(e.ends)) for e in state.history]
    return pb.LogChunk(
        epoch=state.epoch,
        ends=dirnames(wal.positions()),
        sent_ns=time.time_ns(),
        history=history,
        origin=state.origin,
    )


async def _start(wal: WAL, hello: pb.Hello, context) -> dict[Stream, int]:
    """Where each stream is sent from: the follower's ends, checked against what this primary
    holds (OUT_OF_RANGE when retention removed a record it needs, or it is ahead)."""
    try:
        asked = {stream_named(s): seq for s, seq in hello.ends.items()}
    except BadPosition as exc:
        await context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"ends: {exc}")
    ends, firsts = wal.positions(), wal.firsts()
    cursor = {}
    for stream in ends:
        seq, first = asked.get(stream, 0), firsts.get(stream, 0)
        if seq < first and hello.from_first_retained:
            seq = first
        if seq < first:
            await context.abort(
                grpc.StatusCode.OUT_OF_RANGE,
                f"{stream.dirname} at {seq}: this primary keeps {first} on (retention); "
                "re-bootstrap from its first retained records",
            )
        cursor[stream] = seq
    ahead = [
        f"{s.dirname} {seq} > {ends.get(s, 0)}" for s, seq in asked.items() if seq > ends.get(s, 0)
    ]
    if ahead:
        await context.abort(
            grpc.StatusCode.FAILED_PRECONDITION,
            f"the follower holds records this primary does not ({', '.join(ahead[:3])}): it "
            "followed another primary, or this one lost data; copy it again with --fresh",
        )
    return cursor


def _read(
    wal: WAL, ends: Mapping[Stream, int], cursor: dict[Stream, int], turns: dict[Stream, int]
) -> list[tuple[str, int, bytes]]:
    """The next records (stream, seq, frame) below the log's `ends`, up to CHUNK_BYTES;
    advances `cursor`. Streams that are behind take turns, the one served longest ago first
    (`turns`): a chunk of few streams costs the follower few fsyncs (one per stream file), and
    every stream moves."""
    behind = sorted(
        (s for s in ends if cursor.get(s, 0) < ends[s]), key=lambda s: (turns.get(s, 0), s)
    )
    turn = max(turns.values(), default=0) + 1
    out: list[tuple[str, int, bytes]] = []
    size = 0
    for stream in behind:
        turns[stream] = turn
        for seq, count, frame in wal.read_frames(stream, cursor.get(stream, 0)):
            out.append((stream.dirname, seq, frame))
            cursor[stream] = seq + count
            size += len(frame)
            if size >= CHUNK_BYTES:
                return out
    return out


def chunk_bytes(
    epoch: int, records: list[tuple[str, int, bytes]], ends: Mapping[str, int], sent_ns: int
) -> bytes:
    """A serialized `LogChunk` built by hand: each frame is copied once (the join), not into a
    message and out again (a third of the primary's time per chunk went to that)."""
    parts = [b"\x08", varint(epoch)]
    for stream, seq, frame in records:
        name = stream.encode()
        head = b"\x0a" + varint(len(name)) + name + b"\x10" + varint(seq)
        head += b"\x1a" + varint(len(frame))
        parts += [b"\x12", varint(len(head) + len(frame)), head, frame]
    for stream, end in ends.items():
        name = stream.encode()
        entry = b"\x0a" + varint(len(name)) + name + b"\x10" + varint(end)
        parts += [b"\x1a", varint(len(entry)), entry]
    parts += [b"\x20", varint(sent_ns)]
    return b"".join(parts)
