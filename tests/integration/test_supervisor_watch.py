"""The supervisor's watch loop while children restart: one child's restart backoff holds up no
other child's pings, and an error inside one restart is counted, not fatal to the loop. Real Ray
actors and the simulator (chaos.harness's live system)."""

import asyncio
from dataclasses import replace

import pytest
import ray

from actors.supervisor import Child, Supervisor
from chaos.harness import (
    FAST_POLICY,
    LiveSystem,
    SystemConfig,
    all_running,
    storing_more_than,
    wait_until,
)

pytestmark = [pytest.mark.ray, pytest.mark.usefixtures("ray_runtime")]

SLOW_BACKOFF = replace(FAST_POLICY, backoff_initial_s=16, backoff_max_s=16)
"""Every restart waits 8-16 s: far longer than noticing a hang takes (a ping period + timeout)."""
NOTICE_S = SLOW_BACKOFF.ping_every_s + SLOW_BACKOFF.ping_timeout_s + 1.5
"""Ping period, ping timeout, and slack for a loaded machine: still well under any backoff."""


def _row(supervisor: Supervisor, name: str) -> dict:
    return supervisor.status()[name]


def _state(supervisor: Supervisor, name: str, state: str):
    async def check() -> bool:
        return _row(supervisor, name)["state"] == state

    return check


def _restarted(supervisor: Supervisor, name: str, times: int):
    async def check() -> bool:
        row = _row(supervisor, name)
        return row["state"] == "running" and row["restarts"] >= times

    return check


def test_writer_hang_during_a_provider_restart_backoff_is_noticed_in_time(tmp_path):
    async def scenario() -> None:
        async with LiveSystem(SystemConfig(("binance",), tmp_path, policy=SLOW_BACKOFF)) as system:
            supervisor = system.supervisor
            await wait_until(storing_more_than(supervisor, 50), 30, "first events")
            ray.kill(supervisor.children["provider:binance"].handle, no_restart=True)
            await wait_until(_state(supervisor, "provider:binance", "restarting"), 10, "backoff")

            supervisor.children["writer"].handle._hang_for_testing.remote(60)
            await wait_until(_state(supervisor, "writer", "restarting"), NOTICE_S, "hang noticed")
            assert _row(supervisor, "provider:binance")["state"] == "restarting"
            assert "no answer to ping" in _row(supervisor, "writer")["error"]

            await wait_until(all_running(supervisor), 60, "writer and provider restarted")
        assert {name: row["state"] for name, row in system.status.items()} == {
            "writer": "running",
            "books:binance": "running",
            "provider:binance": "running",
        }
        assert system.status["writer"]["restarts"] == 1

    asyncio.run(scenario())


def test_an_error_inside_one_restart_is_counted_and_the_watch_loop_goes_on(tmp_path, monkeypatch):
    restart = Supervisor._restart
    injected: list[str] = []

    async def first_provider_restart_raises(self: Supervisor, child: Child) -> None:
        if child.kind == "provider" and not injected:
            injected.append(child.name)
            raise RuntimeError("injected: restart failed")
        await restart(self, child)

    monkeypatch.setattr(Supervisor, "_restart", first_provider_restart_raises)

    async def scenario() -> None:
        async with LiveSystem(SystemConfig(("binance",), tmp_path)) as system:
            supervisor = system.supervisor
            await wait_until(storing_more_than(supervisor, 50), 30, "first events")
            ray.kill(supervisor.children["provider:binance"].handle, no_restart=True)
            # The failed restart counts as one more failure: restarted again, by the policy.
            await wait_until(_restarted(supervisor, "provider:binance", 2), 20, "provider back")
            row = _row(supervisor, "provider:binance")
            assert row["restart errors"] == 1 and "injected" in row["error"]

            ray.kill(supervisor.children["books:binance"].handle, no_restart=True)
            await wait_until(_restarted(supervisor, "books:binance", 1), 20, "books restarted")

    asyncio.run(scenario())
    assert injected == ["provider:binance"]
