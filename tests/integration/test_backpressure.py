"""A BookActor that falls behind (but answers pings): the provider does not queue without bound
or stall; book batches overflow past it into the DLQ, the store still gets every event, and the
books resync once it catches up."""

import asyncio

import pytest

from actors.supervisor import Supervisor
from mdc.dlq import DeadLetterQueue
from mdc.simulator.server import Simulator
from tests.integration.collector import collect, wait_until
from tests.integration.test_observability import writer_ping

pytestmark = [pytest.mark.ray, pytest.mark.usefixtures("ray_runtime")]


def _overflowed(supervisor: Supervisor):
    async def check() -> bool:
        return (await writer_ping(supervisor))["dlq_by_cause"]["backpressure_overflow"] >= 1

    return check


def test_a_slow_book_actor_overflows_into_the_dlq_and_nothing_is_lost(tmp_path):
    writer_after: dict = {}

    async def scenario(supervisor: Supervisor, sim: Simulator) -> None:
        books = supervisor.children["books:binance"].handle
        await asyncio.wrap_future(books._slow_for_testing.remote(12.0).future())
        await wait_until(_overflowed(supervisor), 40, "a back-pressure overflow dead-lettered")
        # Asked now: the supervisor's last ping, kept for the final status, may predate it.
        writer_after.update(await writer_ping(supervisor))
        await asyncio.wrap_future(books._slow_for_testing.remote(0.0).future())

    result = asyncio.run(collect(tmp_path, ("binance",), scenario))
    assert result.report.ok, "\n".join(result.report.lines())
    assert result.report.trades_found == result.report.trades_expected > 100
    assert writer_after["failures"]["backpressure_overflow"] >= 1
    assert result.status["books:binance"]["restarts"] == 0  # slow, not hung: no restart
    with DeadLetterQueue.open(str(tmp_path)) as dlq:
        (entry, *_) = [e for e in dlq.list() if e.cause == "backpressure_overflow"]
    assert entry.venue == "binance" and "BookActor took no batch" in entry.error
