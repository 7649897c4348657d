"""Find venue adapters by name through the `mdc.venues` entry points (third parties add theirs),
check that each keeps the plugin contract, and describe every installed one for listings."""

from __future__ import annotations

import importlib
import importlib.metadata
from dataclasses import dataclass, replace
from typing import Any

from mdc.errors import UnknownVenue
from mdc.plugins import entry_points_of, load_variant, variant_names
from mdc.venues.base import Venue
from mdc.venues.contract import Capabilities, ContractError

GROUP = "mdc.venues"


def venue_names() -> list[str]:
    return variant_names(GROUP)


def venue_class(name: str) -> type[Venue]:
    """The registered class, checked against the contract; UnknownVenue names the installed
    ones, ContractError says what the plugin gets wrong."""
    loaded = load_variant(GROUP, name)
    if loaded is None:
        known = ", ".join(venue_names()) or "none installed"
        raise UnknownVenue(f"unknown venue {name!r}; known venues: {known}")
    return checked_class(name, loaded)


def get_venue(name: str) -> Venue:
    """A venue object of its own: a venue keeps per-connection state (Coinbase sequences,
    decoding caches), so two connections, or two readings of a recording, never share one.
    Venues are registered by class and built by their `create`."""
    venue = venue_class(name).create()
    if not isinstance(venue, Venue):
        raise ContractError(f"venue plugin {name!r}: create() returned {type(venue).__name__}")
    return venue


def checked_class(entry_name: str, loaded: object) -> type[Venue]:
    """`loaded` (what the entry point named) if it keeps the contract, else ContractError."""
    where = f"venue plugin {entry_name!r}"
    if not (isinstance(loaded, type) and issubclass(loaded, Venue)):
        raise ContractError(f"{where}: {loaded!r} is not a subclass of mdc.venues.base.Venue")
    if loaded.name != entry_name:
        raise ContractError(
            f"{where}: the class's name is {loaded.name!r}; it must equal the entry-point name"
        )
    if not isinstance(loaded.capabilities, Capabilities):
        raise ContractError(f"{where}: capabilities must be a mdc.venues.contract.Capabilities")
    if not isinstance(loaded.display_name, str) or not loaded.display_name:
        raise ContractError(f"{where}: display_name must be a non-empty string")
    return loaded


@dataclass(frozen=True, slots=True)
class PluginInfo:
    """One installed `mdc.venues` entry point as listings show it; `error` set means it cannot
    be used (it failed to import or breaks the contract), and the venue fields are then empty."""

    id: str
    target: str
    """What the entry point names (`module:Class`)."""
    distribution: str
    version: str
    display_name: str = ""
    capabilities: Capabilities | None = None
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        caps = None if self.capabilities is None else self.capabilities.as_dict()
        return {
            "id": self.id,
            "display_name": self.display_name,
            "version": self.version,
            "distribution": self.distribution,
            "target": self.target,
            "capabilities": caps,
            "error": self.error,
        }


def plugin_infos() -> list[PluginInfo]:
    """Every installed venue entry point, sorted by id, each read afresh from the installed
    metadata (after an upgrade the new version shows; nothing is cached). A plugin that fails
    to load is listed with its error instead of breaking the listing, and so is each of two
    distributions claiming one id."""
    importlib.invalidate_caches()  # a distribution installed since we started is seen
    entries = entry_points_of(GROUP)
    names = [e.name for e in entries]
    infos = [_info(e, names.count(e.name) > 1) for e in entries]
    return sorted(infos, key=lambda i: (i.id, i.distribution))


def installed_version(name: str) -> str:
    """`<distribution> <version>` of the installed plugin registering venue `name`, read from
    the metadata now (after an upgrade: the new one), without importing the plugin."""
    for entry in entry_points_of(GROUP):
        if entry.name == name:
            return " ".join(_distribution(entry))
    return "not installed"


def _distribution(entry: importlib.metadata.EntryPoint) -> tuple[str, str]:
    dist = entry.dist
    return ("?", "?") if dist is None else (dist.name, dist.version)


def _info(entry: importlib.metadata.EntryPoint, duplicated: bool) -> PluginInfo:
    distribution, version = _distribution(entry)
    info = PluginInfo(id=entry.name, target=entry.value, distribution=distribution, version=version)
    if duplicated:
        return replace(info, error="more than one distribution registers this venue id")
    try:
        venue = checked_class(entry.name, entry.load())
    except Exception as exc:  # the plugin's own code: whatever it raises is its error here
        return replace(info, error=f"{type(exc).__name__}: {exc}")
    return replace(info, display_name=venue.display_name, capabilities=venue.capabilities)
