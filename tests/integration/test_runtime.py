"""The actor runtime under process faults: every trade stored exactly once, books exact outside
recorded gaps, restarts within the policy. A real Ray runtime and the simulator on loopback."""

import asyncio
import os
import random
import signal

import pytest
import ray

from actors.supervisor import Supervisor
from mdc.simulator.server import Simulator
from mdc.store import Store
from mdc.supervision import ChildState
from tests.integration.collector import FAST_POLICY, collect, wait_until

pytestmark = [pytest.mark.ray, pytest.mark.usefixtures("ray_runtime")]
VENUES = ("binance", "coinbase", "kraken", "alpaca")


async def kill(supervisor: Supervisor, name: str, how: str) -> None:
    handle = supervisor.children[name].handle
    if how == "ray.kill":
        ray.kill(handle, no_restart=True)
    else:
        pid = await asyncio.wrap_future(handle.pid.remote().future())
        os.kill(pid, signal.SIGKILL)


def assert_guarantees(result, restarted: str, restarts: int) -> None:
    report = result.report
    assert report.ok, "\n".join(report.lines())
    assert report.trades_expected > 100 and report.trades_found == report.trades_expected
    assert report.book_states_checked > 10
    assert result.status[restarted]["restarts"] == restarts
    assert all(s["state"] == "running" for s in result.status.values())


# Each kind of actor dies once, each way of dying hits each kind but one, the writer (whose
# death costs most) both ways: five runs of about 23 s instead of all eight pairs.
KILLS = [
    ("provider:binance", "SIGKILL"),
    ("provider:coinbase", "ray.kill"),
    ("books:kraken", "SIGKILL"),
    ("writer", "SIGKILL"),
    ("writer", "ray.kill"),
]


@pytest.mark.parametrize(("victim", "how"), KILLS)
def test_killed_actor_is_restarted_and_nothing_is_lost(tmp_path, victim, how):
    rng = random.Random(f"{victim}{how}")

    async def scenario(supervisor: Supervisor, sim: Simulator) -> None:
        await asyncio.sleep(rng.uniform(0.0, 1.5))  # a random instant mid-stream
        await kill(supervisor, victim, how)
        await wait_until(_restarted(supervisor, victim), 20, f"{victim} restarted")

    venues = ("binance", "coinbase", "kraken") if victim != "writer" else VENUES
    result = asyncio.run(collect(tmp_path, venues, scenario))
    assert_guarantees(result, victim, restarts=1)


def test_a_killed_provider_is_replaced_by_its_standby_and_a_new_standby_is_made(tmp_path):
    seen: dict[str, int] = {}

    async def scenario(supervisor: Supervisor, sim: Simulator) -> None:
        standby = supervisor._standbys["coinbase"]
        seen["standby"] = await asyncio.wrap_future(standby.pid.remote().future())
        await kill(supervisor, "provider:coinbase", "SIGKILL")
        await wait_until(_restarted(supervisor, "provider:coinbase"), 20, "provider restarted")
        handle = supervisor.children["provider:coinbase"].handle
        seen["provider"] = await asyncio.wrap_future(handle.pid.remote().future())
        fresh = supervisor._standbys["coinbase"]
        seen["next standby"] = await asyncio.wrap_future(fresh.pid.remote().future())

    result = asyncio.run(collect(tmp_path, ("coinbase",), scenario, standby=True))
    assert_guarantees(result, "provider:coinbase", restarts=1)
    assert seen["provider"] == seen["standby"] != seen["next standby"]


def test_hung_provider_is_detected_killed_and_restarted(tmp_path):
    async def scenario(supervisor: Supervisor, sim: Simulator) -> None:
        handle = supervisor.children["provider:kraken"].handle
        handle._hang_for_testing.remote(30)  # blocks its event loop: pings go unanswered
        await wait_until(_restarted(supervisor, "provider:kraken"), 20, "hung provider restarted")

    result = asyncio.run(collect(tmp_path, ("kraken", "binance"), scenario))
    assert_guarantees(result, "provider:kraken", restarts=1)
    assert "no answer to ping" in result.status["provider:kraken"]["error"]


def test_restart_intensity_exceeded_marks_the_provider_failed(tmp_path):
    async def scenario(supervisor: Supervisor, sim: Simulator) -> None:
        for _ in range(FAST_POLICY.max_restarts + 1):
            await wait_until(
                _state(supervisor, "provider:binance", ChildState.RUNNING), 20, "running"
            )
            await kill(supervisor, "provider:binance", "SIGKILL")
            await wait_until(_not_running(supervisor, "provider:binance"), 20, "death noticed")
        await wait_until(
            _state(supervisor, "provider:binance", ChildState.FAILED), 20, "escalation"
        )

    # collect() goes on until kraken has stored more: a failed provider stops alone.
    result = asyncio.run(collect(tmp_path, ("binance", "kraken"), scenario))
    assert result.status["provider:binance"]["state"] == "failed"
    assert result.status["provider:binance"]["restarts"] == FAST_POLICY.max_restarts
    assert result.status["provider:kraken"]["state"] == "running"
    with Store.open(str(tmp_path), readonly=True) as store:
        failed = [e for e in store.iter_events(types=["status"]) if e.state == "failed"]
    assert [e.venue for e in failed] == ["binance"]
    assert "exceeded the restart intensity" in failed[0].detail


def _restarted(supervisor: Supervisor, name: str):
    async def check() -> bool:
        child = supervisor.children[name]
        return child.tracker.total >= 1 and child.state is ChildState.RUNNING

    return check


def _state(supervisor: Supervisor, name: str, state: ChildState):
    async def check() -> bool:
        return supervisor.children[name].state is state

    return check


def _not_running(supervisor: Supervisor, name: str):
    async def check() -> bool:
        return supervisor.children[name].state is not ChildState.RUNNING

    return check
