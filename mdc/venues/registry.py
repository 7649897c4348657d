"""Find venue adapters by name through the `mdc.venues` entry points (third parties add theirs)."""

from __future__ import annotations

from mdc.errors import UnknownVenue
from mdc.plugins import load_variant, variant_names
from mdc.venues.base import Venue

GROUP = "mdc.venues"


def venue_names() -> list[str]:
    return variant_names(GROUP)


def get_venue(name: str) -> Venue:
    venue = load_variant(GROUP, name)
    if venue is None:
        known = ", ".join(venue_names()) or "none installed"
        raise UnknownVenue(f"unknown venue {name!r}; known venues: {known}")
    return venue


def new_venue(name: str) -> Venue:
    """A venue object of its own: venues keep per-connection state (Coinbase sequences), which
    one reading of a recording must not inherit from another in the same process."""
    return type(get_venue(name))()
