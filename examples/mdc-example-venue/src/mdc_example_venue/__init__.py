"""Example Exchange: a template third-party venue for mdc.

Registered through entry points (pyproject.toml), never by importing it: `mdc.venues` names the
venue class the collector runs, `mdc.simulator_venues` the simulator's encoder of the same wire
format. Split by role: `wire` (the protocol and its structs), `parse` (messages to events),
`rest` (REST requests and replies), `adapter` (the venue class), `simulator` (the encoder),
`version` (what differs between versions).
"""

from .adapter import ExampleVenue
from .version import TRADE_CONDITIONS, __version__

__all__ = ["TRADE_CONDITIONS", "ExampleVenue", "__version__"]
