"""A whole live system for chaos scenarios and runtime tests: the simulator and the supervised Ray
actors in one event loop, optionally behind Toxiproxy proxies, then the store checked against
the simulator's ground truth with the same checker as `mdc verify`.

The simulator shares the driver's event loop, so anything blocking (fault injection over HTTP,
`ray.get`) must run in a thread (`asyncio.to_thread`), or the venues stall with it.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from ray.exceptions import RayActorError

from actors.commands import write_truth
from actors.connection import Endpoint, VenueRun
from actors.supervisor import Supervisor
from actors.waiting import wait_until
from chaos.faults.proxied import ToxiproxyAPI
from mdc.config import load_config
from mdc.simulator.config import SimulatorConfig
from mdc.simulator.server import Simulator
from mdc.store import Store
from mdc.supervision import ChildState, RestartPolicy
from mdc.verify import VerifyReport, load_truth, verify_store

FAST_POLICY = RestartPolicy(
    max_restarts=4,
    window_s=60,
    backoff_initial_s=0.1,
    backoff_max_s=0.5,
    ping_timeout_s=2.0,
    ping_every_s=0.3,
)
VERIFY_MARGIN_NS = 2_000_000_000
"""Trades published in the last 2 s before the stop may still be in flight: not expected."""
Predicate = Callable[[], Awaitable[bool]]


@dataclass(frozen=True)
class SystemConfig:
    venues: tuple[str, ...]
    data_dir: Path
    seed: int = 7
    rate: float = 40.0
    policy: RestartPolicy = FAST_POLICY
    writer_faults: bool = False
    reconcile_s: float = 1.0
    """Much shorter than in production, so losses on id-less venues heal within a short run."""
    silence_timeout_s: float = 5.0
    toxiproxy_url: str | None = None
    """When set, every venue connection goes through a proxy named after the venue there."""
    truth_book_retention: int = 100_000
    standby: bool = False
    """A standby provider per venue, as `mdc run` keeps (more processes: off in most tests)."""


@dataclass
class LiveSystem:
    """`async with LiveSystem(config) as system:` runs until the block ends, then drains."""

    config: SystemConfig
    sim: Simulator = field(init=False)
    supervisor: Supervisor = field(init=False)
    proxies: dict[str, str] = field(default_factory=dict)
    namespace: str = field(default_factory=lambda: f"mdc-{secrets.token_hex(4)}")
    """Ray namespace of this run's named actors: runs sharing one Ray never collide."""
    stopped_ns: int = 0
    status: dict[str, dict] = field(default_factory=dict)
    drained: dict[str, bool] = field(default_factory=dict)
    """Per producer at the stop: everything it sent acknowledged (durable) in time."""
    writer_stats: dict = field(default_factory=dict)
    _stop: asyncio.Event = field(default_factory=asyncio.Event)
    _watcher: asyncio.Task | None = None
    _exit: contextlib.AsyncExitStack = field(default_factory=contextlib.AsyncExitStack)

    async def __aenter__(self) -> LiveSystem:
        cfg = self.config
        collector = load_config(None, data_dir=str(cfg.data_dir), venues=",".join(cfg.venues))
        symbols = {v.name: v.session.symbols for v in collector.venues}
        sim_config = SimulatorConfig(
            venues=cfg.venues,
            symbols=symbols,
            seed=cfg.seed,
            rate=cfg.rate,
            truth_book_retention=cfg.truth_book_retention,
        )
        self.sim = await self._exit.enter_async_context(Simulator(sim_config))
        if cfg.toxiproxy_url:
            self.proxies = await asyncio.to_thread(self._create_proxies)
        runs = [
            VenueRun(
                v.name,
                replace(
                    v.session_with_keys(sim_config.alpaca_key, sim_config.alpaca_secret),
                    reconcile_s=cfg.reconcile_s,
                ),
                self._endpoint(v.name),
            )
            for v in collector.venues
        ]
        self.supervisor = Supervisor(
            runs,
            str(cfg.data_dir),
            policy=cfg.policy,
            writer_faults=cfg.writer_faults,
            namespace=self.namespace,
            standby=cfg.standby,
        )
        await self.supervisor.start()
        self._watcher = asyncio.create_task(self.supervisor.watch(self._stop))
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def stop(self) -> None:
        """Drain the collector and keep the ground truth beside the data (idempotent)."""
        if self._watcher is None:
            return
        self.stopped_ns = time.time_ns()
        self._stop.set()
        await self._watcher
        self._watcher = None
        self.status = self.supervisor.status()
        with contextlib.suppress(RayActorError, KeyError):
            self.writer_stats = await ping_child(self.supervisor, "writer")
        self.drained = await self.supervisor.stop()
        write_truth(self.sim, list(self.config.venues), str(self.truth_dir), self.stopped_ns)
        if self.proxies:
            await asyncio.to_thread(self._destroy_proxies)
        await self._exit.aclose()

    @property
    def truth_dir(self) -> Path:
        return self.config.data_dir / "truth"

    def verify(self) -> VerifyReport:
        """Every published trade stored once, books exact outside gaps (after `stop`)."""
        truth = load_truth(sorted(self.truth_dir.glob("*.jsonl")))
        with Store.open(str(self.config.data_dir), readonly=True) as store:
            return verify_store(store, truth, self.stopped_ns - VERIFY_MARGIN_NS)

    # -- proxies -----------------------------------------------------------------------------

    def _endpoint(self, venue: str) -> Endpoint:
        urls = self.sim.urls[venue]
        ws, http = urls.ws_base, urls.http
        if venue in self.proxies:
            ws, http = (_with_netloc(url, self.proxies[venue]) for url in (ws, http))
        return Endpoint(ws, http, silence_timeout_s=self.config.silence_timeout_s)

    def _create_proxies(self) -> dict[str, str]:
        """One TCP proxy per venue (websocket and REST share the simulator's port)."""
        api = ToxiproxyAPI(self.config.toxiproxy_url or "")
        return {
            venue: api.replace_proxy(venue, urlsplit(self.sim.urls[venue].http).netloc)
            for venue in self.config.venues
        }

    def _destroy_proxies(self) -> None:
        api = ToxiproxyAPI(self.config.toxiproxy_url or "")
        for venue in self.proxies:
            api.destroy_proxy(venue)


def _with_netloc(url: str, netloc: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(netloc=netloc))


# -- conditions to wait on --------------------------------------------------------------------


async def ping_child(supervisor: Supervisor, name: str) -> dict:
    """The named child's ping answer (counters, pid, DLQ counts...)."""
    return await asyncio.wrap_future(supervisor.children[name].handle.ping.remote().future())


async def stored_events(supervisor: Supervisor) -> int:
    return (await ping_child(supervisor, "writer"))["stored"]


def all_running(supervisor: Supervisor) -> Predicate:
    """Every child running, or failed for good (escalated): nothing is still restarting."""

    async def check() -> bool:
        return all(
            c.state in (ChildState.RUNNING, ChildState.FAILED) for c in supervisor.children.values()
        )

    return check


async def _provider_messages(supervisor: Supervisor) -> dict[str, int]:
    counts = {}
    for child in supervisor.children.values():
        if child.kind == "provider" and child.state is ChildState.RUNNING:
            with contextlib.suppress(RayActorError):
                ping = await ping_child(supervisor, child.name)
                counts[child.name] = ping["messages"] if ping["phase"] == "streaming" else -1
    return counts


async def every_provider_streaming(supervisor: Supervisor) -> Predicate:
    """Each running provider connected and receiving again (a lost tail shows only then)."""
    before = await _provider_messages(supervisor)

    async def check() -> bool:
        now = await _provider_messages(supervisor)
        return all(now.get(name, -1) > max(count, 0) + 20 for name, count in before.items())

    return check


def storing_more_than(supervisor: Supervisor, count: int) -> Predicate:
    async def check() -> bool:
        try:
            return await stored_events(supervisor) > count
        except RayActorError:  # the writer is being restarted
            return False

    return check


async def recover(supervisor: Supervisor, settle_events: int, timeout_s: float = 30) -> float:
    """Wait until every actor runs, every provider streams and events flow again; seconds."""
    took = await wait_until(all_running(supervisor), timeout_s, "every actor running again")
    took += await wait_until(
        await every_provider_streaming(supervisor), timeout_s, "every provider streaming again"
    )
    counted: list[int] = []

    async def writer_answers() -> bool:
        with contextlib.suppress(RayActorError):  # it died just now: the supervisor will see
            counted.append(await stored_events(supervisor))
        return bool(counted)

    took += await wait_until(writer_answers, timeout_s, "the writer answering")
    after = counted[0]
    return took + await wait_until(
        storing_more_than(supervisor, after + settle_events),
        timeout_s,
        "events flowing after recovery",
    )
