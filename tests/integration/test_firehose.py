"""The capacity benchmark's firehose: tapes recorded in memory, replayed by a real server on
127.0.0.1 to a real websocket client, which mdc's own session reads without a gap."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

import aiohttp
import pytest
import websockets

from mdc.errors import LocalMisuse
from mdc.events import Gap
from mdc.simulator.config import SimulatorConfig
from mdc.simulator.firehose import FRAMES_PER_CHUNK, TapeRecorder, ws_text_frame
from mdc.simulator.server import FirehoseServer
from mdc.venues.base import SessionConfig

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
from firehose_tapes import record_tape
from stages import connected_session, feed, payloads

TIMEOUT_S = 20
SYMBOLS = ("BTC-USDT", "ETH-USDT")


@pytest.mark.parametrize("size", [0, 125, 126, 65535, 65536])
def test_ws_text_frame_lengths(size):
    frame = ws_text_frame("x" * size)
    assert frame[0] == 0x81  # FIN, text, and (server side) no mask bit below
    if size < 126:
        assert (frame[1], frame[2:]) == (size, b"x" * size)
    elif size < 1 << 16:
        assert frame[1] == 126 and int.from_bytes(frame[2:4], "big") == size
    else:
        assert frame[1] == 127 and int.from_bytes(frame[2:10], "big") == size


def test_a_recorder_needs_an_open_connection():
    recorder = TapeRecorder("binance", SimulatorConfig(venues=("binance",)), 0)
    with pytest.raises(LocalMisuse, match="open"):
        recorder.record(1.0)


def binance_tape(seconds: float):
    sim = SimulatorConfig(venues=("binance",), symbols={"binance": SYMBOLS}, rate=200)
    session = SessionConfig(symbols=SYMBOLS)
    return session, record_tape("binance", session, sim, seconds, 1_700_000_000_000_000_000)


def test_a_recorded_tape_reads_without_a_gap_and_its_books_sync():
    session_config, tape = binance_tape(3.0)
    session, _ = connected_session(tape, session_config, track_books=True)
    frames = payloads(tape)
    assert len(frames) == tape.frames > 100
    events = [event for frame in frames for event in feed(session, tape, frame)]
    assert not [e for e in events if isinstance(e, Gap)]
    assert all(sync.in_sync for sync in session.books.values())
    assert len(session.books) == len(SYMBOLS)


def test_the_server_replays_the_tape_from_its_start_to_each_client():
    session_config, tape = binance_tape(2.0)
    expected = [frame.decode() for frame in payloads(tape)]

    async def read_all(url: str) -> list[str]:
        async with websockets.connect(url, compression=None) as ws:
            return [await ws.recv() for _ in expected]

    async def main() -> None:
        server = FirehoseServer(tape)
        urls = await server.start()
        try:
            path = connected_session(tape, session_config, False)[0].venue.ws_path(session_config)
            first = await read_all(urls.ws_base + path)
            second = await read_all(urls.ws_base + path)
            async with aiohttp.ClientSession() as http:
                depth = await http.get(f"{urls.http}/api/v3/depth?symbol=BTCUSDT&limit=100")
                snapshot = json.loads(await depth.read())
                stats = await (await http.post(f"{urls.http}/_firehose?frames_per_s=50")).json()
        finally:
            await server.stop()
        assert first == expected and second == expected
        first_update = json.loads(
            next(f for f in expected if "depthUpdate" in f and "BTCUSDT" in f)
        )
        assert snapshot["lastUpdateId"] + 1 == first_update["data"]["U"]
        assert stats["connections"] == 2 and stats["frames_per_s"] == 50
        assert stats["frames_sent"] >= 2 * (tape.frames - FRAMES_PER_CHUNK)

    asyncio.run(asyncio.wait_for(main(), TIMEOUT_S))
