"""Harness for runtime tests: the simulator and the supervised Ray actors in one event loop, then
the store checked against the simulator's ground truth with the same checker as `mdc verify`."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from pathlib import Path

from ray.exceptions import RayActorError

from actors.commands import write_truth
from actors.connection import Endpoint
from actors.local import VenueRun
from actors.supervisor import Supervisor
from mdc.config import load_config
from mdc.simulator.config import SimulatorConfig
from mdc.simulator.server import Simulator
from mdc.store import Store
from mdc.supervision import RestartPolicy
from mdc.verify import VerifyReport, load_truth, verify

FAST_POLICY = RestartPolicy(
    max_restarts=4,
    window_s=60,
    backoff_initial_s=0.1,
    backoff_max_s=0.5,
    ping_timeout_s=2.0,
    ping_every_s=0.3,
)
RECONCILE_S = 1.0
"""Much shorter than in production, so losses on id-less venues heal within a short test."""
Scenario = Callable[[Supervisor, Simulator], Awaitable[None]]


@dataclass
class RunResult:
    report: VerifyReport
    status: dict[str, dict]
    data_dir: Path


async def wait_until(predicate: Callable[[], Awaitable[bool]], timeout_s: float, what: str) -> None:
    """Poll an async condition; fail the test with `what` if it does not hold in time."""
    deadline = time.monotonic() + timeout_s
    while not await predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s}s waiting for {what}")
        await asyncio.sleep(0.1)


async def stored_events(supervisor: Supervisor) -> int:
    stats = await asyncio.wrap_future(supervisor.children["writer"].handle.ping.remote().future())
    return stats["stored"]


def all_running(supervisor: Supervisor) -> Callable[[], Awaitable[bool]]:
    """Every child running, or failed for good (escalated): nothing is still restarting."""

    async def check() -> bool:
        return all(c.state in ("running", "failed") for c in supervisor.children.values())

    return check


async def _provider_messages(supervisor: Supervisor) -> dict[str, int]:
    counts = {}
    for child in supervisor.children.values():
        if child.kind == "provider" and child.state == "running":
            with contextlib.suppress(RayActorError):
                ping = await asyncio.wrap_future(child.handle.ping.remote().future())
                counts[child.name] = ping["messages"] if ping["phase"] == "streaming" else -1
    return counts


async def every_provider_streaming(supervisor: Supervisor) -> Callable[[], Awaitable[bool]]:
    """Each running provider connected and receiving again (a lost tail shows only then)."""
    before = await _provider_messages(supervisor)

    async def check() -> bool:
        now = await _provider_messages(supervisor)
        return all(now.get(name, -1) > max(count, 0) + 20 for name, count in before.items())

    return check


def storing_more_than(supervisor: Supervisor, count: int) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        try:
            return await stored_events(supervisor) > count
        except RayActorError:  # the writer is being restarted
            return False

    return check


async def collect(
    tmp: Path,
    venues: tuple[str, ...],
    scenario: Scenario,
    *,
    seed: int = 7,
    policy: RestartPolicy = FAST_POLICY,
    settle_events: int = 300,
    writer_faults: bool = False,
) -> RunResult:
    """Collect until `settle_events` are stored, run `scenario`, let it recover, stop, verify."""
    config = load_config(None, data_dir=str(tmp), venues=",".join(venues))
    symbols = {v.name: v.session.symbols for v in config.venues}
    sim_config = SimulatorConfig(
        venues=venues, symbols=symbols, seed=seed, rate=40.0, truth_book_retention=100_000
    )
    async with Simulator(sim_config) as sim:
        runs = [
            VenueRun(
                v.name,
                replace(
                    v.session_with_keys(sim_config.alpaca_key, sim_config.alpaca_secret),
                    reconcile_s=RECONCILE_S,
                ),
                Endpoint(sim.urls[v.name].ws_base, sim.urls[v.name].http, silence_timeout_s=5.0),
            )
            for v in config.venues
        ]
        supervisor = Supervisor(runs, str(tmp), policy=policy, writer_faults=writer_faults)
        await supervisor.start()
        stop = asyncio.Event()
        watcher = asyncio.create_task(supervisor.watch(stop))
        try:
            await wait_until(storing_more_than(supervisor, settle_events), 30, "first events")
            await scenario(supervisor, sim)
            await wait_until(all_running(supervisor), 30, "every actor running again")
            await wait_until(
                await every_provider_streaming(supervisor), 30, "every provider streaming again"
            )
            after = await stored_events(supervisor)
            await wait_until(
                storing_more_than(supervisor, after + settle_events),
                30,
                "events flowing after recovery",
            )
        finally:
            stopped_ns = time.time_ns()
            stop.set()
            await watcher
            status = supervisor.status()
            await supervisor.stop()
        write_truth(sim, list(venues), str(tmp / "truth"), stopped_ns)
    truth = load_truth(sorted((tmp / "truth").glob("*.jsonl")))
    with Store.open(str(tmp), readonly=True) as store:
        report = verify(store.iter_events(), truth, end_ns=stopped_ns - 2_000_000_000)
    return RunResult(report, status, tmp)
