"""Harness for runtime tests: chaos.harness's live system with a scenario in the middle, then the
store checked against the simulator's ground truth with the same checker as `mdc verify`."""

from __future__ import annotations

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
from mdc.supervision import RestartPolicy
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
        await recover(supervisor, settle_events)
    return RunResult(system.verify(), system.status, tmp)
