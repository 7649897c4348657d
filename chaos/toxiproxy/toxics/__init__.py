"""Toxic types by name: the built-ins below plus whatever the `mdc.toxics` entry points add.

The table is explicit (no import-time registration). Entry points may name a built-in again
only with the very same class; any other clash is a `DuplicateToxic`.
"""

from __future__ import annotations

from chaos.toxiproxy.errors import BadToxicPlugin, DuplicateToxic
from chaos.toxiproxy.toxics.bandwidth import Bandwidth
from chaos.toxiproxy.toxics.base import Chunk, Close, Eof, Item, LinkCtx, Toxic
from chaos.toxiproxy.toxics.latency import Latency
from chaos.toxiproxy.toxics.limit_data import LimitData
from chaos.toxiproxy.toxics.noop import Noop
from chaos.toxiproxy.toxics.reset_peer import ResetPeer
from chaos.toxiproxy.toxics.slicer import Slicer
from chaos.toxiproxy.toxics.slow_close import SlowClose
from chaos.toxiproxy.toxics.timeout import Timeout
from mdc.plugins import load_variant, variant_names

TOXICS_GROUP = "mdc.toxics"

BUILTIN_TOXICS: dict[str, type[Toxic]] = {
    cls.name: cls
    for cls in (Noop, Latency, Bandwidth, SlowClose, Timeout, ResetPeer, Slicer, LimitData)
}


def load_toxics(group: str = TOXICS_GROUP) -> dict[str, type[Toxic]]:
    """Built-ins plus the group's entry points, checked: each must be a Toxic named as its entry."""
    table = dict(BUILTIN_TOXICS)
    for name in variant_names(group):
        cls = load_variant(group, name)
        if not (isinstance(cls, type) and issubclass(cls, Toxic) and cls.name == name):
            raise BadToxicPlugin(f"entry point {group}:{name} is not a Toxic with name {name!r}")
        if table.get(name, cls) is not cls:
            raise DuplicateToxic(f"toxic type {name!r} is claimed by {table[name]} and {cls}")
        table[name] = cls
    return table


__all__ = [
    "BUILTIN_TOXICS",
    "TOXICS_GROUP",
    "Chunk",
    "Close",
    "Eof",
    "Item",
    "LinkCtx",
    "Toxic",
    "load_toxics",
]
