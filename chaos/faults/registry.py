"""Fault kinds by name: entry-point group `mdc.faults`, plus the built-ins below so the suite works
before (or without) the package metadata. Nothing is imported until a fault is asked for."""

from __future__ import annotations

import importlib
import importlib.metadata
from typing import Any

from chaos.faults.base import BaseFault, FaultParamError, UnknownFault
from mdc.errors import DuplicateVariant
from mdc.plugins import variant_names

GROUP = "mdc.faults"
BUILTIN: dict[str, str] = {
    "proxy_latency": "chaos.faults.proxy_latency:ProxyLatency",
    "proxy_reset": "chaos.faults.proxy_reset:ProxyReset",
    "proxy_bandwidth": "chaos.faults.proxy_bandwidth:ProxyBandwidth",
    "proxy_down": "chaos.faults.proxy_down:ProxyDown",
    "netns_partition": "chaos.faults.netns_partition:NetnsPartition",
    "disk_full": "chaos.faults.disk_full:DiskFull",
    "io_error": "chaos.faults.io_error:IOFault",
    "slow_fsync": "chaos.faults.slow_fsync:SlowFsync",
    "crash_mid_write": "chaos.faults.crash_mid_write:CrashMidWrite",
    "kill_actor": "chaos.faults.kill_actor:KillActor",
    "hang_actor": "chaos.faults.hang_actor:HangActor",
    "kill_node": "chaos.faults.kill_node:KillNode",
    "kill_serve_replica": "chaos.faults.kill_serve_replica:KillServeReplica",
}


def _targets() -> dict[str, str]:
    """Built-ins overlaid with entry points; one name pointing at two classes is an error."""
    targets = dict(BUILTIN)
    for entry in importlib.metadata.entry_points(group=GROUP):
        known = targets.get(entry.name)
        if known is not None and known != entry.value and entry.name in BUILTIN:
            raise DuplicateVariant(f"{GROUP}: {entry.name!r} is {known} and also {entry.value}")
        targets[entry.name] = entry.value
    variant_names(GROUP)  # raises DuplicateVariant when two distributions name one fault
    return targets


def fault_names() -> list[str]:
    return sorted(_targets())


def fault_class(name: str) -> type[BaseFault]:
    target = _targets().get(name)
    if target is None:
        raise UnknownFault(f"unknown fault {name!r}; known: {', '.join(fault_names())}")
    module, _, attribute = target.partition(":")
    return getattr(importlib.import_module(module), attribute)


def make_fault(name: str, **params: Any) -> BaseFault:
    """A configured fault; parameters it does not take give FaultParamError."""
    cls = fault_class(name)
    try:
        return cls(**params)
    except TypeError as exc:
        raise FaultParamError(f"{name}: {exc}") from exc
