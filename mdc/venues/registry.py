"""Find venue adapters by name through the `mdc.venues` entry points (third parties add theirs)."""

from __future__ import annotations

from mdc.errors import UnknownVenue
from mdc.plugins import load_variant, variant_names
from mdc.venues.base import Venue

GROUP = "mdc.venues"


def venue_names() -> list[str]:
    return variant_names(GROUP)


def get_venue(name: str) -> Venue:
    """A venue object of its own: a venue keeps per-connection state (Coinbase sequences,
    decoding caches), so two connections, or two readings of a recording, never share one.
    Venues are registered by class."""
    venue_class = load_variant(GROUP, name)
    if venue_class is None:
        known = ", ".join(venue_names()) or "none installed"
        raise UnknownVenue(f"unknown venue {name!r}; known venues: {known}")
    return venue_class()
