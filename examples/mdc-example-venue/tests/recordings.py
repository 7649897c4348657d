"""The recorded messages in `fixtures/`, read for the tests.

They came from this package's simulator encoder (seed 7, one symbol); a real venue's plugin
records its own from the venue (some minutes of websocket frames, a few REST replies) and keeps
them here, so its parser is tested on what the venue really sends.
"""

from __future__ import annotations

from pathlib import Path

from mdc.venues.base import SessionConfig

FIXTURES = Path(__file__).parent / "fixtures"
SYMBOL = "BTC-USD"
CONFIG = SessionConfig((SYMBOL,))


def recorded(name: str) -> list[bytes]:
    """The frames of a recorded websocket stream, one per line."""
    return (FIXTURES / name).read_bytes().splitlines()


def reply(name: str) -> bytes:
    """A recorded REST reply body."""
    return (FIXTURES / name).read_bytes()
