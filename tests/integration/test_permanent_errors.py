"""A REST call answered with an error no retry can fix (a rejected key, a missing endpoint) is not
retried: the provider stops, fails with a Status event saying what to fix, and the supervisor
leaves it failed. Real Ray actors, the simulator's websocket, and a REST stub on loopback."""

import asyncio
import contextlib
import logging
import secrets
from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from actors.connection import Endpoint, VenueRun
from actors.supervisor import Supervisor
from chaos.harness import FAST_POLICY, wait_until
from mdc.config import load_config
from mdc.simulator.config import SimulatorConfig
from mdc.simulator.server import Simulator
from mdc.store import Store
from mdc.supervision import ChildState

pytestmark = [pytest.mark.ray, pytest.mark.usefixtures("ray_runtime")]


@contextlib.asynccontextmanager
async def rest_stub(status: int) -> AsyncIterator[tuple[str, list[str]]]:
    """Answers every request with `status`; yields its URL and the paths it was asked for."""
    asked: list[str] = []

    async def answer(request: web.Request) -> web.Response:
        asked.append(request.path)
        return web.json_response({"code": -2015, "msg": "rejected"}, status=status)

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", answer)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}", asked
    finally:
        await runner.cleanup()


async def collect_with_rest_answering(status: int, data_dir: str) -> tuple[dict, list[str], int]:
    """Binance from the simulator, its REST calls (book snapshots) to the stub; runs until the
    provider is marked failed. Returns its status row, the REST paths asked, its symbol count."""
    (venue,) = load_config(None, data_dir=data_dir, venues="binance").venues
    symbols = venue.session.symbols
    sim_config = SimulatorConfig(venues=("binance",), symbols={"binance": symbols})
    async with Simulator(sim_config) as sim, rest_stub(status) as (rest_url, asked):
        run = VenueRun("binance", venue.session, Endpoint(sim.urls["binance"].ws_base, rest_url))
        namespace = f"mdc-{secrets.token_hex(4)}"
        supervisor = Supervisor([run], data_dir, policy=FAST_POLICY, namespace=namespace)
        await supervisor.start()
        stop = asyncio.Event()
        watcher = asyncio.create_task(supervisor.watch(stop))

        async def provider_failed() -> bool:
            return supervisor.children["provider:binance"].state is ChildState.FAILED

        try:
            await wait_until(provider_failed, 20, "provider:binance marked failed")
        finally:
            stop.set()
            await watcher
            row = supervisor.status()["provider:binance"]
            await supervisor.stop(timeout_s=5)
    return row, asked, len(symbols)


@pytest.mark.parametrize(
    ("status", "fix"),
    [(401, "check the venue's API key and secret"), (404, "check the venue's rest_url")],
)
def test_permanent_rest_error_fails_the_provider_once_with_what_to_fix(
    tmp_path, caplog, status, fix
):
    caplog.set_level(logging.ERROR, logger="actors.supervisor")
    row, asked, symbols = asyncio.run(collect_with_rest_answering(status, str(tmp_path)))

    assert 1 <= len(asked) <= symbols  # one snapshot request per symbol at most, none repeated
    assert set(asked) == {"/api/v3/depth"}
    assert row["state"] == "failed" and row["restarts"] == 0
    assert f"code {status}" in row["error"] and fix in row["error"]
    assert any(fix in r.getMessage() for r in caplog.records if r.levelno == logging.ERROR)
    with Store.open(str(tmp_path), readonly=True) as store:
        failed = [e for e in store.iter_events(types=["status"]) if e.state == "failed"]
    assert [e.venue for e in failed] == ["binance"]
    assert f"code {status}" in failed[0].detail and fix in failed[0].detail
