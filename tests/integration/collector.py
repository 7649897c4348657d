"""Harness for runtime tests: chaos.harness's live system with a scenario in the middle, then the
store checked against the simulator's ground truth with the same checker as `mdc verify`."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from actors.supervisor import Supervisor
from chaos.harness import (
    FAST_POLICY,
    LiveSystem,
    SystemConfig,
    recover,
    storing_more_than,
    wait_until,
)
from mdc.simulator.server import Simulator
from mdc.store import Store
from mdc.supervision import RestartPolicy
from mdc.venues.registry import get_venue
from mdc.verify import VerifyReport

__all__ = ["FAST_POLICY", "RunResult", "collect", "wait_until"]
Scenario = Callable[[Supervisor, Simulator], Awaitable[None]]


@dataclass
class RunResult:
    report: VerifyReport
    status: dict[str, dict]
    data_dir: Path


async def collect(
    tmp: Path,
    venues: tuple[str, ...],
    scenario: Scenario,
    *,
    seed: int = 7,
    policy: RestartPolicy = FAST_POLICY,
    settle_events: int = 300,
    writer_faults: bool = False,
    standby: bool = False,
) -> RunResult:
    """Collect until `settle_events` are stored, run `scenario`, let it recover, stop, verify."""
    config = SystemConfig(
        venues, tmp, seed=seed, policy=policy, writer_faults=writer_faults, standby=standby
    )
    async with LiveSystem(config) as system:
        supervisor = system.supervisor
        await wait_until(storing_more_than(supervisor, settle_events), 30, "first events")
        await scenario(supervisor, system.sim)
        scenario_ended_ns = time.time_ns()
        await recover(supervisor, settle_events)
        await wait_until(
            reconciled_after(tmp, venues, scenario_ended_ns, config.reconcile_s),
            30,
            "a trade reconciliation after the scenario",
        )
    return RunResult(system.verify(), system.status, tmp)


def reconciled_after(
    data_dir: Path, venues: tuple[str, ...], ended_ns: int, reconcile_s: float
) -> Callable[[], Awaitable[bool]]:
    """Venues without consecutive trade ids recover lost trades only by their periodic REST
    reconciliation (every `reconcile_s`): a loss late in the scenario is healed once every such
    venue's trades stream holds trades received two periods after the scenario ended (a
    reconciliation began after it by then; the stop drains its backfill)."""
    id_less = {v for v in venues if not get_venue(v).consecutive_trade_ids}
    after_ns = ended_ns + int(2 * reconcile_s * 1e9)

    async def check() -> bool:
        with Store.open(str(data_dir), readonly=True) as store:
            newest: dict[str, int] = {}
            for stream in store.wal.streams():
                if stream.venue in id_less and stream.family == "trades":
                    for event in store.tail(stream, 1):
                        newest[stream.venue] = max(newest.get(stream.venue, 0), event.ts_recv)
        return all(newest.get(v, 0) >= after_ns for v in id_less)

    return check
