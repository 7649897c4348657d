"""Where a hub learns how far the log is durable (`hub.TailSource`).

`WriterTails`: beside a running collector, long polls of the writer actor, which answers as soon
as a commit (fsync) acknowledged more: exact, and fast. `LocalTails`: the store this process
writes (`mdc run --local`), told after each commit. `StoreTails`: a store with no collector
(`mdc serve`), read again every so often; what it sees is what is on disk then.
"""

from __future__ import annotations

import asyncio
import os
import random
from collections.abc import Callable

from ray.exceptions import RayError

from actors.waiting import Versions
from mdc.backoff import Backoff
from mdc.store.fs import RealFS
from mdc.store.streams import Stream
from mdc.store.wal import WAL, Tail

POLL_WAIT_S = 1.0
"""How long one long poll may wait for a commit (so a replaced writer is noticed)."""
WRITER_GONE = Backoff(0.05, 2.0, floor=0.5)


class WriterTails:
    """Long polls `writer().durable_tails`; `writer` gives the current writer handle (the
    supervisor replaces it after a restart)."""

    def __init__(self, writer: Callable[[], object]) -> None:
        self._writer = writer
        self._rng = random.Random()

    async def next(self, since: int) -> tuple[int, dict[Stream, Tail]]:
        attempt = 0
        while True:
            try:
                ref = self._writer().durable_tails.remote(since, POLL_WAIT_S)  # type: ignore[attr-defined]
                version, tails = await ref
            except RayError:  # the writer restarts (dead, unavailable, replaced)
                await asyncio.sleep(WRITER_GONE.delay(attempt, self._rng))
                attempt += 1
                continue
            return version, {Stream.from_dirname(name): Tail(*t) for name, t in tails.items()}


class LocalTails:
    """The tails of a WAL this event loop commits to: `grew()` after each commit (on the loop's
    thread, between commits, so the WAL is read while nothing writes it)."""

    def __init__(self, wal: WAL) -> None:
        self._wal = wal
        self._tails = wal.tails()
        self._versions = Versions()

    def grew(self) -> None:
        tails = self._wal.tails()
        if tails != self._tails:
            self._tails = tails
            self._versions.move()

    async def next(self, since: int) -> tuple[int, dict[Stream, Tail]]:
        version = await self._versions.past(since, POLL_WAIT_S)
        return version, dict(self._tails)


class StoreTails:
    """Reads the store's tails every `every_s` (a new version when they changed)."""

    def __init__(self, data_dir: str, every_s: float = 1.0) -> None:
        self._root = os.path.join(data_dir, "wal")
        self._every_s = every_s
        self._version = 0
        self._tails: dict[Stream, Tail] | None = None

    async def next(self, since: int) -> tuple[int, dict[Stream, Tail]]:
        if self._tails is not None and since == self._version:
            await asyncio.sleep(self._every_s)
        tails = await asyncio.to_thread(self._read)
        if tails != self._tails:
            self._version += 1
            self._tails = tails
        return self._version, tails

    def _read(self) -> dict[Stream, Tail]:
        wal, _ = WAL.open(self._root, RealFS(), readonly=True)
        try:
            return wal.tails()
        finally:
            wal.close()
