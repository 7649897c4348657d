"""The usage counters of a venue connection (actors/connection.py) against what really crossed
it: the embedded simulator on 127.0.0.1, a real websocket and real REST calls, no Ray."""

from __future__ import annotations

import asyncio

from actors.connection import Endpoint, VenueConnection
from mdc.simulator.config import SimulatorConfig
from mdc.simulator.server import Simulator
from mdc.venues.base import HttpGet, SendText, Session, SessionConfig
from mdc.venues.registry import get_venue

TIMEOUT_S = 20


class Witness:
    """Wraps a session to see every frame, REST body and sent text the connection handled."""

    def __init__(self, session: Session) -> None:
        self.frames = self.bodies = self.sent = 0
        self.calls: dict[str, int] = {}
        receive, response, outbox = session.receive, session.http_response, session.outbox

        def seen_receive(data: bytes, now_ns: int):
            self.frames += len(data)
            return receive(data, now_ns)

        def seen_response(request: HttpGet, status: int, body: bytes, now_ns: int):
            self.bodies += len(body)
            return response(request, status, body, now_ns)

        def seen_outbox():
            items = outbox()
            for item in items:
                if isinstance(item, SendText):
                    self.sent += len(item.text.encode())
                elif isinstance(item, HttpGet):
                    self.calls[item.purpose] = self.calls.get(item.purpose, 0) + 1
            return items

        session.receive, session.http_response, session.outbox = (
            seen_receive,
            seen_response,
            seen_outbox,
        )


async def _collect(venue: str, config: SessionConfig, enough) -> tuple[dict, Witness]:
    async with Simulator(SimulatorConfig(venues=(venue,), rate=200.0)) as sim:
        urls = sim.urls[venue]
        session = Session(get_venue(venue), config)
        witness = Witness(session)
        done = asyncio.Event()
        connection: VenueConnection

        async def sink(_events) -> None:
            if enough(connection.stats):
                done.set()

        connection = VenueConnection(session, Endpoint(urls.ws_base, urls.http), sink)
        running = asyncio.create_task(connection.run())
        await asyncio.wait_for(done.wait(), TIMEOUT_S)
        await connection.stop()
        await asyncio.wait_for(running, TIMEOUT_S)
        return connection.stats.usage(), witness


def test_binance_counts_frames_bytes_and_snapshot_calls_exactly():
    config = SessionConfig(symbols=("BTC-USDT",))
    usage, seen = asyncio.run(
        _collect("binance", config, lambda s: s.messages >= 50 and s.rest_bytes_in > 0)
    )
    assert usage["messages"] >= 50
    assert usage["ws_bytes_in"] == seen.frames > 0
    assert usage["rest_bytes_in"] == seen.bodies > 0
    assert usage["api_calls"]["connect"] == 1
    assert usage["api_calls"]["snapshot"] == seen.calls["snapshot"] >= 1


def test_alpaca_counts_the_bytes_it_sends():
    config = SessionConfig(symbols=("AAPL",), key="sim-key", secret="sim-secret")
    usage, seen = asyncio.run(_collect("alpaca", config, lambda s: s.messages >= 5))
    assert usage["ws_bytes_out"] == seen.sent > 0  # auth and subscribe
    assert usage["ws_bytes_in"] == seen.frames > 0
