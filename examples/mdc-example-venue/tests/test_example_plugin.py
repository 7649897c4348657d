"""The package as mdc finds it: installed entry points, the plugin contract, its config checks
and what tells one version from another."""

from __future__ import annotations

import importlib.metadata
from decimal import Decimal

import msgspec
from mdc_example_venue import TRADE_CONDITIONS, ExampleVenue, __version__
from mdc_example_venue.simulator import ExampleSimVenue
from recordings import recorded

from mdc.events import Trade, identity
from mdc.simulator.registry import simulator_venue_class
from mdc.venues.contract import Capabilities
from mdc.venues.registry import get_venue, venue_class


def test_the_entry_points_name_the_venue_and_its_simulator() -> None:
    assert venue_class("example") is ExampleVenue
    assert isinstance(get_venue("example"), ExampleVenue)
    assert simulator_venue_class("example") is ExampleSimVenue


def test_the_distribution_version_is_the_one_in_version_py() -> None:
    assert importlib.metadata.version("mdc-example-venue") == __version__


def test_the_capabilities_say_what_the_venue_does() -> None:
    venue = ExampleVenue()
    assert venue.capabilities == Capabilities(("trades", "book"), "update_ids", "id", False)
    assert venue.has_books and venue.book_update_ids and not venue.needs_auth
    assert venue.consecutive_trade_ids  # what backfill "id" needs


def test_a_good_table_has_no_problems() -> None:
    assert ExampleVenue.validate_config({"symbols": ["BTC-USD", "ETH-USD"]}) == []


def test_the_venues_own_config_checks_name_the_key() -> None:
    table = {"symbols": ["BTC-USD", "btcusd"], "channels": ["trades", "quotes"], "depth": 10}
    problems = ExampleVenue.validate_config(table)
    assert [p.split(": ", 1)[1].split()[0] for p in problems] == ["depth", "channels", "symbols"]
    assert all(p.startswith("venues.example: ") for p in problems)


def test_every_trade_carries_this_versions_conditions(venue: ExampleVenue) -> None:
    frames = recorded("stream.jsonl")
    trades = [e for f in frames for e in venue.parse(f, 0) if isinstance(e, Trade)]
    assert trades and {t.conditions for t in trades} == {TRADE_CONDITIONS}


def test_conditions_do_not_change_a_trades_identity() -> None:
    """Why a version 2 that marks its trades ("v2",) still deduplicates against version 1."""
    v1 = Trade("example", "BTC-USD", 1, 2, Decimal("1.5"), Decimal("0.1"), "buy", 7)
    v2 = msgspec.structs.replace(v1, conditions=("v2",), ts_recv=3)
    assert identity(v1) == identity(v2)
