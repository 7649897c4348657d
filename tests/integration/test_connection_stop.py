"""A connection stopped while its websocket handshake is still in progress stops: the stop is
not lost (it once was: `mdc run --local` hung on a Ctrl-C right after start, the connection
streaming forever from the socket that opened after the stop)."""

from __future__ import annotations

import asyncio

from websockets.asyncio.server import serve

from actors.connection import Endpoint, VenueConnection
from mdc.venues.base import Session, SessionConfig
from mdc.venues.registry import get_venue


async def _stop_during_handshake() -> tuple[float, int]:
    arrived, release = asyncio.Event(), asyncio.Event()

    async def hold(connection, request):
        arrived.set()
        await release.wait()  # the handshake answers only once the stop was called

    async def stream(ws):
        while True:  # a venue that never stops sending
            await ws.send('{"e":"ping"}')
            await asyncio.sleep(0.01)

    async with serve(stream, "127.0.0.1", 0, process_request=hold) as server:
        port = server.sockets[0].getsockname()[1]
        endpoint = Endpoint(f"ws://127.0.0.1:{port}", f"http://127.0.0.1:{port}")
        session = Session(get_venue("binance"), SessionConfig(symbols=("BTC-USDT",)))
        events: list = []

        async def sink(batch) -> None:
            events.extend(batch)

        connection = VenueConnection(session, endpoint, sink)
        running = asyncio.create_task(connection.run())
        await asyncio.wait_for(arrived.wait(), 10)
        await connection.stop()
        release.set()
        started = asyncio.get_running_loop().time()
        await asyncio.wait_for(running, 10)
        return asyncio.get_running_loop().time() - started, connection.stats.connects


def test_a_stop_during_the_handshake_stops_the_connection():
    took, connects = asyncio.run(_stop_during_handshake())
    assert took < 5
    assert connects == 0  # it never started streaming
