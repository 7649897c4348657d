"""Firehose: one connection's frames, encoded before serving, so a capacity benchmark measures the
collector and not the simulator's model and encoders.

A `TapeRecorder` plays one venue connection in memory. It opens the venue's session, answers the
client's handshake messages (given as text: whatever the client under test sends), then steps
the model on its own clock and keeps every frame, already framed for the websocket. REST requests
are answered by a copy of the venue taken before the first step, so a depth snapshot matches the
tape's first frame. The I/O shell (`server.FirehoseServer`) replays a tape from its start to each
connection, as fast as the socket drains or at a set rate.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass

from mdc.errors import LocalMisuse
from mdc.simulator.config import SimulatorConfig
from mdc.simulator.driver import VenueDriver
from mdc.simulator.encoders.base import HttpReply, Session, SessionOutput, Venue

FRAMES_PER_CHUNK = 16
"""Frames joined into one write: the shell's cost per frame is then a slice of a bytes copy."""


def ws_text_frame(text: str) -> bytes:
    """A complete, unmasked websocket text frame (RFC 6455 5.2), as a server sends it."""
    payload = text.encode()
    size = len(payload)
    if size < 126:
        header = bytes((0x81, size))
    elif size < 1 << 16:
        header = bytes((0x81, 126)) + size.to_bytes(2, "big")
    else:
        header = bytes((0x81, 127)) + size.to_bytes(8, "big")
    return header + payload


@dataclass(frozen=True, slots=True)
class Tape:
    """What one connection gets: handshake replies, then data frames in chunks."""

    venue: str
    replies: tuple[tuple[str, ...], ...]
    """replies[0] on open; replies[i] after the client's i-th message; streaming starts after
    the last of them."""
    chunks: tuple[bytes, ...]
    """Data frames, FRAMES_PER_CHUNK websocket frames per item (the last may hold fewer)."""
    frames: int
    model_events: int
    model_seconds: float
    rest_venue: Venue
    """The venue as it was before the first step: REST answers consistent with the frames."""

    def rest(self, path: str, query: Mapping[str, str], headers: Mapping[str, str]) -> HttpReply:
        return self.rest_venue.rest(path, query, headers)


class TapeRecorder:
    """Records one connection: `open`, then `message` for each client message, then `record`."""

    def __init__(self, venue: str, config: SimulatorConfig, start_ns: int) -> None:
        self.driver = VenueDriver(venue, config)
        self.config = config
        self.now_ns = start_ns
        self.rest_venue = copy.deepcopy(self.driver.venue)
        self._session: Session | None = None
        self._replies: list[tuple[str, ...]] = []

    def open(self, path: str, query: Mapping[str, str], headers: Mapping[str, str]) -> list[str]:
        """The frames the venue sends on open (raises HandshakeRejected like the venue would)."""
        self._session = self.driver.venue.open_session(path, query, headers)
        return self._reply(self._session.on_open(self.now_ns))

    def message(self, text: str) -> list[str]:
        """The venue's answer to one client message (subscribe, auth...)."""
        return self._reply(self._live_session().on_message(text, self.now_ns))

    def rest(self, path: str, query: Mapping[str, str], headers: Mapping[str, str]) -> HttpReply:
        return self.rest_venue.rest(path, query, headers)

    def record(self, model_seconds: float) -> Tape:
        """Step the model `model_seconds` on its own clock; the session's frames become the tape."""
        session = self._live_session()
        tick_ns = int(self.config.tick_s * 1e9)
        frames: list[bytes] = []
        events = 0
        for _ in range(int(model_seconds / self.config.tick_s)):
            self.now_ns += tick_ns
            pubs = self.driver.advance(self.now_ns)
            events += len(self.driver.last_events)
            for out in (session.on_publications(pubs, self.now_ns), session.on_tick(self.now_ns)):
                frames += map(ws_text_frame, out.control + out.data)
        chunks = tuple(
            b"".join(frames[i : i + FRAMES_PER_CHUNK])
            for i in range(0, len(frames), FRAMES_PER_CHUNK)
        )
        return Tape(
            self.driver.venue.name,
            tuple(self._replies),
            chunks,
            len(frames),
            events,
            model_seconds,
            self.rest_venue,
        )

    def _reply(self, out: SessionOutput) -> list[str]:
        if out.close:
            raise LocalMisuse("the venue closed the recorded connection during the handshake")
        frames = out.control + out.data
        self._replies.append(tuple(frames))
        return frames

    def _live_session(self) -> Session:
        if self._session is None:
            raise LocalMisuse("TapeRecorder: open() the connection first")
        return self._session
