"""Process and crash faults against the real collector (simulator + supervised Ray actors): the
supervisor restarts what the fault broke and the store still matches the simulator's ground
truth (every trade once, books exact outside recorded gaps)."""

import asyncio
import random

import pytest

from actors.supervisor import Supervisor
from chaos.faults.base import FaultContext
from chaos.faults.crash_mid_write import CrashMidWrite
from chaos.faults.hang_actor import HangActor
from chaos.faults.kill_actor import KillActor
from mdc.simulator.server import Simulator
from mdc.supervision import ChildState
from tests.integration.collector import collect, wait_until

pytestmark = [pytest.mark.ray, pytest.mark.usefixtures("ray_runtime")]


def _restarted(supervisor: Supervisor, name: str, times: int = 1):
    async def check() -> bool:
        child = supervisor.children[name]
        return child.tracker.total >= times and child.state is ChildState.RUNNING

    return check


def _assert_verified(result) -> None:
    report = result.report
    assert report.ok, "\n".join(report.lines())
    assert report.trades_expected > 100 and report.trades_found == report.trades_expected
    assert all(s["state"] == "running" for s in result.status.values())


def test_writer_crashed_mid_commit_loses_nothing(tmp_path):
    records = []

    async def scenario(supervisor: Supervisor, sim: Simulator) -> None:
        ctx = FaultContext(rng=random.Random(8), supervisor=supervisor, data_dir=str(tmp_path))
        fault = CrashMidWrite(timeout_s=10)
        records.append(await asyncio.to_thread(fault.inject, ctx))
        await wait_until(_restarted(supervisor, "writer"), 20, "writer restarted")
        fault.heal(ctx)

    result = asyncio.run(collect(tmp_path, ("binance", "kraken"), scenario, writer_faults=True))
    _assert_verified(result)
    assert result.status["writer"]["restarts"] == 1
    (record,) = records
    assert record.target == "writer" and record.detail["pid"] > 0
    assert record.healed_at_ns > record.injected_at_ns


def test_killed_and_hung_providers_are_restarted_and_nothing_is_lost(tmp_path):
    records = []

    async def scenario(supervisor: Supervisor, sim: Simulator) -> None:
        ctx = FaultContext(rng=random.Random(4), supervisor=supervisor)
        kill = KillActor(target="provider:*", how="sigkill")
        killed = await asyncio.to_thread(kill.inject, ctx)
        await wait_until(_restarted(supervisor, killed.target), 20, f"{killed.target} restarted")
        kill.heal(ctx)
        other = next(n for n in ("provider:binance", "provider:kraken") if n != killed.target)
        hang = HangActor(target=other, seconds=30)
        hung = await asyncio.to_thread(hang.inject, ctx)
        await wait_until(_restarted(supervisor, other), 20, f"hung {other} restarted")
        hang.heal(ctx)
        records.extend([killed, hung])

    result = asyncio.run(collect(tmp_path, ("binance", "kraken"), scenario))
    _assert_verified(result)
    killed, hung = records
    assert killed.detail["how"] == "sigkill" and killed.detail["pid"] > 0
    assert result.status[killed.target]["restarts"] == 1
    assert result.status[hung.target]["restarts"] == 1
    assert "no answer to ping" in result.status[hung.target]["error"]
