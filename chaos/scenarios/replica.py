"""A follower in another region through the faults: `mdc replicate` follows the collector's
log through a Toxiproxy proxy (the region link) to the gRPC server of the run's subscribers.
Its status is sampled through the run (the heartbeat's age shows a partition). After the
collector drained, the primary's store is served on the same port so the follower can finish;
then its log is compared with the primary's, record for record."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from chaos.faults.proxied import ToxiproxyAPI
from chaos.replication import Replica, log_differences, served, wait_caught_up
from chaos.scenarios.region_partition import REPLICA_LINK

SAMPLE_EVERY_S = 0.5
CONVERGE_TIMEOUT_S = 120.0


@dataclass
class ReplicaUnderFaults:
    work_dir: Path
    toxiproxy_url: str
    upstream_port: int
    key: str
    max_heartbeat_age_s: float = 0.0
    max_lag_s: float = 0.0
    differences: list[str] = field(default_factory=list)
    error: str = ""
    _replica: Replica | None = None
    _sampler: asyncio.Task | None = None

    async def __aenter__(self) -> ReplicaUnderFaults:
        api = ToxiproxyAPI(self.toxiproxy_url)
        upstream = f"127.0.0.1:{self.upstream_port}"
        listen = await asyncio.to_thread(api.replace_proxy, REPLICA_LINK, upstream)
        extra = ("--silence", "3", "--name", "region-b")
        replica_dir = self.work_dir / "replica"
        shutil.rmtree(replica_dir, ignore_errors=True)  # a run's own follower, from scratch
        self._replica = Replica(listen, replica_dir, self.key, extra).start()
        self._sampler = asyncio.create_task(self._sample())
        return self

    async def _sample(self) -> None:
        assert self._replica is not None
        while True:
            status = self._replica.status()
            self.max_heartbeat_age_s = max(
                self.max_heartbeat_age_s, status.get("heartbeat_age_s") or 0.0
            )
            self.max_lag_s = max(self.max_lag_s, status.get("lag_seconds") or 0.0)
            await asyncio.sleep(SAMPLE_EVERY_S)

    async def __aexit__(self, *exc: object) -> None:
        if self._sampler is not None:
            self._sampler.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sampler

    def converge(self, primary: Path) -> None:
        """Serve the stopped primary's store where the link points; wait for the follower to
        hold all of it; stop it; compare (blocking)."""
        assert self._replica is not None
        try:
            with served(primary, self.key, self.upstream_port):
                wait_caught_up(self._replica, primary, CONVERGE_TIMEOUT_S)
        except AssertionError as exc:
            self.error = f"{exc}; the follower said: {self._replica.output()[-600:]}"
        finally:
            code = self._replica.stop()
        if code != 0:
            self.error = self.error or f"mdc replicate exited {code}"
        self.differences = log_differences(primary, self._replica.data_dir)
