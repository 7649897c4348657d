"""Find the simulator's venue encoders by name through the `mdc.simulator_venues` entry points,
so a third-party venue package can make the embedded simulator speak its venue too.

Each entry point names a subclass of `mdc.simulator.encoders.base.Venue` whose `name` equals
the entry-point name. Looking names up imports nothing (`simulator_venue_names`); only the
encoder asked for is imported.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mdc.plugins import load_variant, variant_names
from mdc.simulator.model import SimulatorConfigError

if TYPE_CHECKING:
    from mdc.simulator.encoders.base import Venue

GROUP = "mdc.simulator_venues"


class UnknownSimulatorVenue(SimulatorConfigError):
    """No installed simulator speaks this venue; the message names the ones that do."""


def simulator_venue_names() -> list[str]:
    return variant_names(GROUP)


def simulator_venue_class(name: str) -> type[Venue]:
    """The encoder class serving venue `name`; a clear error when none is installed or it is
    registered under a name other than its own."""
    loaded = load_variant(GROUP, name)
    if loaded is None:
        installed = ", ".join(simulator_venue_names()) or "none"
        raise UnknownSimulatorVenue(
            f"venues: unknown {[name]}: no simulator speaks {name!r}; installed: {installed}"
        )
    if getattr(loaded, "name", None) != name:
        raise SimulatorConfigError(
            f"simulator venue {name!r}: {loaded!r} must be a simulator Venue class whose name is "
            f"{name!r} (the entry-point name)"
        )
    return loaded
