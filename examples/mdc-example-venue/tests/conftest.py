"""A fresh venue object and session per test (a venue keeps per-connection state)."""

from __future__ import annotations

import pytest
from mdc_example_venue import ExampleVenue
from recordings import CONFIG

from mdc.venues.base import Session


@pytest.fixture
def venue() -> ExampleVenue:
    return ExampleVenue()


@pytest.fixture
def session(venue: ExampleVenue) -> Session:
    """Connected, its subscribe frame already taken from the outbox."""
    s = Session(venue, CONFIG)
    s.connected(0)
    s.outbox()
    return s
