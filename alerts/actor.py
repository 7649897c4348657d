"""The alert actor beside a running collector (`mdc run --alerts FILE`): a thin Ray shell around
`AlertFollower`, told by the writer how far the log is durable. Optional like the gRPC server:
failing to start it is reported and collection goes on."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
from collections.abc import AsyncIterator

import ray

from actors.metrics import Metrics
from alerts.delivery import Undeliverable
from alerts.follower import AlertFollower
from alerts.redeliver import keep_undelivered
from mdc.alerts.config import AlertConfig
from mdc.errors import CollectorError
from mdc.store.follow import Position
from serve.streaming.tails import WriterTails

STATS_EVERY_S = 1.0
ALERT_NICENESS = 19


@ray.remote(num_cpus=0, max_restarts=0)
class AlertActor:
    def __init__(self, data_dir: str, config: AlertConfig, writer: object, start: bytes) -> None:
        # Below the collector's actors (Ray starts workers at nice 15): with the CPU saturated,
        # collection keeps it and alerting lags (mdc_alert_evaluation_lag_seconds says by how
        # much) instead of slowing what is stored (benchmarks/alerts.py measures both).
        os.setpriority(os.PRIO_PROCESS, 0, ALERT_NICENESS)
        self._data_dir = data_dir
        self._writer = writer
        tails = WriterTails(lambda: self._writer)
        position = Position.from_bytes(start)
        self._follower = AlertFollower(data_dir, config, tails, self._dead_letter, position)
        self._task: asyncio.Task | None = None

    async def start(self) -> int:
        """Follow from the saved position (the log's end the first time); the rules count."""
        await self._follower.start()
        self._task = asyncio.create_task(self._follower.run())
        return len(self._follower.config.rules)

    async def pid(self) -> int:
        return os.getpid()

    async def set_writer(self, writer: object) -> None:
        self._writer = writer

    async def stats(self) -> dict:
        follower = self._follower
        delivery = follower.delivery
        return {
            "events": follower.stats.events,
            "save_failures": follower.stats.save_failures,
            "lag_ns": follower.stats.lag_ns,
            "transitions": follower.stats.transitions,
            "notifications": follower.stats.notifications,
            "firing": {f"{n}/{s}": c for (n, s), c in follower.firing().items()},
            "sent": {"/".join(k): n for k, n in delivery.sent.items()},
            "failed": {"/".join(k): n for k, n in delivery.failed.items()},
        }

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._follower.stop()

    def _dead_letter(self, lost: Undeliverable) -> None:
        keep_undelivered(self._data_dir, lost)


@contextlib.asynccontextmanager
async def alerting(
    data_dir: str, supervisor, config: AlertConfig, start: Position, metrics: Metrics
) -> AsyncIterator[None]:
    """The alert actor while the block runs; with no saved state it starts at `start`. Its
    stats go to `metrics` every second."""
    actor = AlertActor.remote(data_dir, config, supervisor.writer, start.to_bytes())
    try:
        rules = await actor.start.remote()
    except (CollectorError, ray.exceptions.RayError, OSError) as exc:
        print(f"mdc run: alerting not started: {exc}; collecting without it", file=sys.stderr)
        ray.kill(actor)
        yield
        return

    async def follow_writer(writer: object) -> None:
        await actor.set_writer.remote(writer)

    supervisor.on_writer.append(follow_writer)
    print(
        f"mdc run: alerting on ({rules} rules; `mdc alerts list` shows what fires)",
        file=sys.stderr,
    )
    poller = asyncio.create_task(_poll_stats(actor, metrics))
    try:
        yield
    finally:
        poller.cancel()
        supervisor.on_writer.remove(follow_writer)
        with contextlib.suppress(ray.exceptions.RayError):
            await actor.stop.remote()
        ray.kill(actor)


async def _poll_stats(actor, metrics: Metrics) -> None:
    life = ("alerts", id(actor))
    while True:
        with contextlib.suppress(ray.exceptions.RayError):
            metrics.update_alerts(await actor.stats.remote(), life)
        await asyncio.sleep(STATS_EVERY_S)
