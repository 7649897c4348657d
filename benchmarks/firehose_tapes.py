"""Firehose tapes for the capacity benchmark: each venue connection recorded before timing starts.

The recorder (mdc/simulator/firehose.py) is told what the client sends; here the client is mdc's
own venue Session, paired with the simulator's session in memory (no socket), so the tape's
handshake replies answer exactly the messages the collector will send. The firehose process
records every venue's tape, then serves them (`FirehoseServer`) until told to stop.
"""

from __future__ import annotations

import asyncio
import multiprocessing as mp
import time
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlsplit

from mdc.simulator.config import SimulatorConfig
from mdc.simulator.firehose import Tape, TapeRecorder
from mdc.venues.base import HttpGet, SendText, Session, SessionConfig
from mdc.venues.registry import get_venue

HANDSHAKE_ROUNDS = 10
"""Client/venue exchanges before the handshake must be over (Alpaca needs three)."""


@dataclass(frozen=True)
class TapeSummary:
    venue: str
    frames: int
    model_events: int
    model_seconds: float
    record_s: float
    ws_base: str
    http: str


def record_tape(
    venue: str, session: SessionConfig, sim: SimulatorConfig, model_seconds: float, start_ns: int
) -> Tape:
    """Pair mdc's Session with the simulator's until the handshake is done, then record."""
    client = Session(get_venue(venue), session)
    recorder = TapeRecorder(venue, sim, start_ns)
    url = urlsplit("ws://firehose" + client.venue.ws_path(session))
    frames = recorder.open(url.path or "/", dict(parse_qsl(url.query)), {})
    client.connected(start_ns)
    for _ in range(HANDSHAKE_ROUNDS):
        for frame in frames:
            client.receive(frame.encode(), start_ns)
        frames = []
        sent = False
        for item in client.outbox():
            if isinstance(item, SendText):
                frames += recorder.message(item.text)
                sent = True
            elif isinstance(item, HttpGet):
                reply = recorder.rest(item.path, dict(item.params), dict(item.headers))
                client.http_response(item, reply.status, reply.body.encode(), start_ns)
        if not sent and not frames:
            return recorder.record(model_seconds)
    raise RuntimeError(f"{venue}: the handshake did not settle in {HANDSHAKE_ROUNDS} rounds")


def serve_tapes(
    sessions: dict[str, SessionConfig],
    sim: SimulatorConfig,
    model_seconds: float,
    out: mp.Queue,
    stop: mp.Event,
) -> None:
    """The firehose process: record every venue's tape, serve them, report (TapeSummary list)."""
    from mdc.simulator.server import FirehoseServer

    async def serve() -> None:
        servers, summaries = [], []
        for venue, session in sessions.items():
            began = time.monotonic()
            tape = record_tape(venue, session, sim, model_seconds, time.time_ns())
            record_s = time.monotonic() - began
            server = FirehoseServer(tape, sim.host)
            urls = await server.start()
            servers.append(server)
            summaries.append(
                TapeSummary(
                    venue,
                    tape.frames,
                    tape.model_events,
                    model_seconds,
                    record_s,
                    urls.ws_base,
                    urls.http,
                )
            )
        out.put(summaries)
        await asyncio.to_thread(stop.wait)
        for server in servers:
            await server.stop()

    asyncio.run(serve())
