"""Simulator faults on every venue at once, under the actor runtime: the same guarantees hold."""

import asyncio

import pytest

from actors.supervisor import Supervisor
from mdc.simulator.server import Simulator
from tests.integration.collector import collect

pytestmark = [pytest.mark.ray, pytest.mark.usefixtures("ray_runtime")]
VENUES = ("binance", "coinbase", "kraken", "alpaca")
FAULTS = {
    "drop+corrupt": {"drop": 0.03, "corrupt": 0.03},  # both lose a frame: gaps, backfills
    "duplicate+reorder": {"duplicate": 0.05, "reorder": 0.05},  # neither loses: one run
    "close": {"close": 0.01},
}


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_venue_faults_lose_nothing(tmp_path, fault):
    async def scenario(supervisor: Supervisor, sim: Simulator) -> None:
        for venue in VENUES:
            sim.set_faults(venue, **FAULTS[fault])
        await asyncio.sleep(4)
        for venue in VENUES:
            sim.set_faults(venue, **dict.fromkeys(FAULTS[fault], 0.0))

    result = asyncio.run(collect(tmp_path, VENUES, scenario))
    report = result.report
    assert report.ok, "\n".join(report.lines())
    assert report.trades_expected > 100 and report.book_states_checked > 10


def test_stalled_venue_is_reconnected_and_backfilled(tmp_path):
    async def scenario(supervisor: Supervisor, sim: Simulator) -> None:
        for venue in VENUES:
            sim.stall(venue, seconds=7)  # longer than the 5 s silence timeout of the harness
        await asyncio.sleep(8)

    result = asyncio.run(collect(tmp_path, VENUES, scenario))
    assert result.report.ok, "\n".join(result.report.lines())
    reconnects = {v: result.status[f"provider:{v}"]["reconnects"] for v in VENUES}
    assert all(n >= 1 for n in reconnects.values()), reconnects
