"""The venue plugin contract: capabilities, listings that survive a broken plugin, one line per
config problem (the same lines the loader raises), `mdc plugins list|validate`, and simulator
encoders found by entry point. Plugins are planted as temporary distributions on sys.path."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import tomllib

import pytest

from mdc.cli import main
from mdc.config import load_config
from mdc.errors import ConfigError
from mdc.simulator.config import SimulatorConfig
from mdc.simulator.driver import VenueDriver
from mdc.simulator.encoders.binance import BinanceVenue
from mdc.simulator.encoders.kraken import KrakenVenue
from mdc.simulator.registry import (
    UnknownSimulatorVenue,
    simulator_venue_class,
    simulator_venue_names,
)
from mdc.venues.base import Venue
from mdc.venues.contract import Capabilities, ContractError, InvalidCapabilities
from mdc.venues.registry import get_venue, plugin_infos, venue_class

BUILT_IN = ("alpaca", "binance", "coinbase", "kraken")
PLANTED = "mdc_test_planted"
"""Prefix of the modules planted here (removed from sys.modules after each test)."""


@pytest.fixture
def plant(tmp_path, monkeypatch):
    """`plant(dist, entries, modules)`: a distribution `dist` 0.3 on sys.path whose entry points
    are `entries` ({group: {name: target}}) and whose modules are `modules` ({name: source})."""

    def install(dist: str, entries: dict[str, dict[str, str]], modules: dict[str, str]) -> None:
        info = tmp_path / dist / f"{dist.replace('-', '_')}-0.3.dist-info"
        info.mkdir(parents=True)
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 0.3\n")
        groups = [
            f"[{group}]\n" + "".join(f"{name} = {target}\n" for name, target in names.items())
            for group, names in entries.items()
        ]
        (info / "entry_points.txt").write_text("\n".join(groups))
        for name, source in modules.items():
            (tmp_path / dist / f"{name}.py").write_text(textwrap.dedent(source))
        monkeypatch.syspath_prepend(str(tmp_path / dist))

    yield install
    for name in [m for m in sys.modules if m.startswith(PLANTED)]:
        del sys.modules[name]


def venue_module(class_source: str) -> str:
    return "from mdc.venues.base import Venue\nfrom mdc.venues.contract import Capabilities\n" + (
        textwrap.dedent(class_source)
    )


# -- capabilities ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("venue", "caps", "summary"),
    [
        ("binance", Capabilities(("trades", "quotes", "book", "bars"), "update_ids", "id", False),
         "trades,quotes,book,bars book:update_ids backfill:id"),
        ("coinbase", Capabilities(("trades", "quotes", "book"), "sequence", "id", False),
         "trades,quotes,book book:sequence backfill:id"),
        ("kraken", Capabilities(("trades", "quotes", "book"), "checksum", "time", False),
         "trades,quotes,book book:checksum backfill:time"),
        ("alpaca", Capabilities(("trades", "quotes", "bars"), "none", "time", True),
         "trades,quotes,bars backfill:time auth"),
    ],
)  # fmt: skip
def test_the_built_ins_declare_their_true_capabilities(venue, caps, summary):
    cls = venue_class(venue)
    assert cls.capabilities == caps and caps.summary() == summary
    instance = get_venue(venue)
    assert instance.needs_auth is caps.auth and instance.has_books is caps.books
    assert instance.book_update_ids is (caps.book_integrity == "update_ids")
    assert cls.display_name and cls.name == venue


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"streams": ("trades", "ticks")}, "streams"),
        ({"streams": ()}, "streams"),
        ({"streams": ("book", "trades")}, "streams"),
        ({"streams": ["trades"]}, "streams"),
        ({"book_integrity": "crc"}, "book_integrity"),
        ({"streams": ("trades",), "book_integrity": "update_ids"}, "book_integrity"),
        ({"book_integrity": "none"}, "book_integrity"),
        ({"backfill": "page"}, "backfill"),
        ({"auth": "yes"}, "auth"),
    ],
)
def test_capabilities_out_of_their_sets_name_the_field(kwargs, field):
    fields = {"streams": ("trades", "book"), "book_integrity": "checksum", "backfill": "time"}
    with pytest.raises(InvalidCapabilities) as info:
        Capabilities(**(fields | {"auth": False} | kwargs))
    assert info.value.field == field and str(info.value).startswith(f"capabilities.{field}:")


def test_capabilities_as_dict_is_plain_json():
    caps = venue_class("alpaca").capabilities.as_dict()
    assert json.loads(json.dumps(caps)) == {
        "streams": ["trades", "quotes", "bars"],
        "book_integrity": "none",
        "backfill": "time",
        "auth": True,
    }


def test_a_third_party_venue_gets_defaults_and_its_name_as_display_name():
    class Mine(Venue):
        name = "mine"

    assert Mine.display_name == "mine"
    assert Mine.capabilities == Capabilities(("trades",), "none", "none", False)
    assert isinstance(Mine.create(), Mine) and Mine.extra_config_problems({}) == []


# -- the registry and listings ------------------------------------------------------------


def test_a_broken_plugin_is_listed_with_its_error_and_breaks_nothing(plant):
    plant(
        "broken-venue",
        {"mdc.venues": {"broken": f"{PLANTED}_broken:Broken"}},
        {f"{PLANTED}_broken": "raise RuntimeError('boom at import')\n"},
    )
    infos = {info.id: info for info in plugin_infos()}
    broken = infos["broken"]
    assert broken.error == "RuntimeError: boom at import" and broken.capabilities is None
    assert (broken.distribution, broken.version) == ("broken-venue", "0.3")
    for name in BUILT_IN:
        assert infos[name].error is None and infos[name].distribution == "mdc"
    assert [v.name for v in load_config(None).venues] == ["binance", "coinbase", "kraken", "alpaca"]


@pytest.mark.parametrize(
    ("source", "error"),
    [
        ("class Other(Venue):\n    name = 'other'\n", "it must equal the entry-point name"),
        ("class Other:\n    name = 'wrong'\n", "is not a subclass of mdc.venues.base.Venue"),
        ("class Other(Venue):\n    name = 'wrong'\n    capabilities = ('trades',)\n",
         "capabilities must be a mdc.venues.contract.Capabilities"),
    ],
)  # fmt: skip
def test_a_plugin_breaking_the_contract_is_refused_and_listed(plant, source, error):
    plant(
        "wrong-venue",
        {"mdc.venues": {"wrong": f"{PLANTED}_wrong:Other"}},
        {f"{PLANTED}_wrong": venue_module(source)},
    )
    with pytest.raises(ContractError, match=error):
        venue_class("wrong")
    (info,) = [i for i in plugin_infos() if i.id == "wrong"]
    assert info.error is not None and error in info.error


def test_two_distributions_claiming_one_id_are_both_listed_with_an_error(plant):
    plant(
        "copy-venue",
        {"mdc.venues": {"binance": f"{PLANTED}_copy:Copy"}},
        {f"{PLANTED}_copy": venue_module("class Copy(Venue):\n    name = 'binance'\n")},
    )
    rows = [i for i in plugin_infos() if i.id == "binance"]
    assert sorted(i.distribution for i in rows) == ["copy-venue", "mdc"]
    assert all("more than one distribution" in (i.error or "") for i in rows)


def test_get_venue_builds_through_create_and_checks_what_it_returns(plant):
    plant(
        "made-venue",
        {"mdc.venues": {"made": f"{PLANTED}_made:Made", "bad": f"{PLANTED}_made:Bad"}},
        {
            f"{PLANTED}_made": venue_module(
                """
                class Made(Venue):
                    name = "made"
                    display_name = "Made Exchange"

                    @classmethod
                    def create(cls):
                        venue = cls()
                        venue.built_by_create = True
                        return venue

                class Bad(Venue):
                    name = "bad"

                    @classmethod
                    def create(cls):
                        return object()
                """
            )
        },
    )
    assert get_venue("made").built_by_create is True
    assert venue_class("made").display_name == "Made Exchange"
    with pytest.raises(ContractError, match=r"create\(\) returned object"):
        get_venue("bad")


# -- one line per config problem, the same as the loader's --------------------------------

NOSIM = """
class NoSim(Venue):
    name = "nosim"
    capabilities = Capabilities(("trades",), "none", "id", auth=True)

    @classmethod
    def extra_config_problems(cls, table):
        if table.get("feed") == "crash":
            raise KeyError("feed")
        return [] if table.get("feed") != "sip" else ["feed 'sip' needs a paid plan"]
"""
LIVE_NOSIM = 'symbols = ["X"]\nsource = "live"\nkey_env = "K"\nsecret_env = "S"'


@pytest.fixture
def nosim(plant, monkeypatch):
    """A venue plugin with no simulator, auth and a check of its own; K and S set, UNSET_S not."""
    plant("nosim-venue", {"mdc.venues": {"nosim": f"{PLANTED}_nosim:NoSim"}},
          {f"{PLANTED}_nosim": venue_module(NOSIM)})  # fmt: skip
    monkeypatch.setenv("K", "key")
    monkeypatch.setenv("S", "secret")
    monkeypatch.delenv("UNSET_S", raising=False)


@pytest.mark.parametrize(
    ("venue", "table", "line"),
    [
        ("binance", 'key = "abc"', "venues.binance: never put keys in the file; name environment"),
        ("binance", "colour = 1", "venues.binance: unknown key(s) ['colour']; valid: ["),
        ("binance", 'source = "paper"', "venues.binance.source must be one of ['simulator', 'l"),
        ("nosim", 'symbols = ["X"]', "venues.nosim.source: no simulator speaks nosim (installed"),
        ("binance", 'symbols = "BTC-USDT"', "venues.binance.symbols must be a list of strings"),
        ("binance", "symbols = []", "venues.binance.symbols must list at least one symbol"),
        ("nosim", 'source = "live"\nkey_env = "K"\nsecret_env = "S"',
         "venues.nosim.symbols must list at least one symbol"),
        ("binance", "channels = [1]", "venues.binance.channels must be a list of strings"),
        ("kraken", "depth = 0", "venues.kraken.depth must be a positive integer"),
        ("kraken", "depth = true", "venues.kraken.depth must be a positive integer"),
        ("coinbase", "feed = 3", "venues.coinbase.feed must be a string"),
        ("binance", 'ws_url = "https://x"', "venues.binance.ws_url must be a ws:// or wss:// URL"),
        ("binance", "rest_url = 3", "venues.binance.rest_url must be a http:// or https:// URL"),
        ("alpaca", 'source = "live"\nkey_env = "K"',
         "venues.alpaca.secret_env must name an environment variable (alpaca needs a key and"),
        ("binance", 'source = "live"\nkey_env = "K"\nsecret_env = "UNSET_S"',
         "venues.binance.secret_env: environment variable UNSET_S is not set"),
        ("nosim", f'{LIVE_NOSIM}\nfeed = "sip"', "venues.nosim: feed 'sip' needs a paid plan"),
        ("nosim", f'{LIVE_NOSIM}\nfeed = "crash"',
         "venues.nosim: the venue's own check failed: KeyError: 'feed'"),
    ],
)  # fmt: skip
@pytest.mark.usefixtures("nosim")
def test_validate_gives_one_line_per_problem_as_the_loader_raises_it(tmp_path, venue, table, line):
    text = f"[venues.{venue}]\n{table}\n"
    problems = venue_class(venue).validate_config(tomllib.loads(text)["venues"][venue])
    assert len(problems) == 1 and problems[0].startswith(line)
    path = tmp_path / "mdc.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_config(str(path))
    assert str(info.value) == f"{path}: {problems[0]}"


def test_every_problem_is_listed_and_the_loader_names_the_first_and_the_count(tmp_path):
    table = {"key": "k", "depth": 0, "symbols": [], "source": "live", "ws_url": "x"}
    problems = venue_class("alpaca").validate_config(table)
    assert [p.split()[0].rstrip(":") for p in problems] == [
        "venues.alpaca",
        "venues.alpaca.symbols",
        "venues.alpaca.depth",
        "venues.alpaca.ws_url",
        "venues.alpaca.key_env",
        "venues.alpaca.secret_env",
    ]
    path = tmp_path / "mdc.toml"
    path.write_text('[venues.alpaca]\nkey = "k"\ndepth = 0\nsymbols = []\nsource = "live"\n'
                    'ws_url = "x"\n')  # fmt: skip
    with pytest.raises(ConfigError) as info:
        load_config(str(path))
    assert str(info.value).startswith(f"{path}: {problems[0]} (and 5 more: `mdc plugins valid")
    assert venue_class("alpaca").validate_config(3) == ["venues.alpaca must be a table"]


def test_a_good_table_has_no_problems():
    table = {"symbols": ["BTC-USD"], "depth": 25, "ws_url": "ws://127.0.0.1:1/x"}
    assert venue_class("kraken").validate_config(table) == []


# -- the command line ---------------------------------------------------------------------


def test_plugins_list_shows_the_built_ins_within_80_columns(capsys, plant):
    plant(
        "broken-venue",
        {"mdc.venues": {"broken": f"{PLANTED}_broken2:Broken"}},
        {f"{PLANTED}_broken2": "import no_such_module_here\n"},
    )
    assert main(["plugins", "list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["ID", "VERSION", "DISTRIBUTION", "CAPABILITIES"]
    assert all(len(line) <= 80 for line in lines)
    text = " ".join(" ".join(lines).split())
    assert "binance 0.1.0 mdc trades,quotes,book,bars book:update_ids backfill:id" in text
    assert "alpaca 0.1.0 mdc trades,quotes,bars backfill:time auth" in text
    assert "broken 0.3 broken-venue error: ModuleNotFoundError: No module named" in text
    assert main(["plugins", "list", "--json"]) == 0
    rows = {row["id"]: row for row in json.loads(capsys.readouterr().out)}
    assert set(BUILT_IN) <= set(rows) and rows["broken"]["capabilities"] is None
    assert rows["coinbase"]["capabilities"]["book_integrity"] == "sequence"
    assert rows["kraken"]["target"] == "mdc.venues.kraken:Kraken"


def test_plugins_validate_exit_codes(tmp_path, capsys):
    path = tmp_path / "mdc.toml"
    path.write_text("[venues.binance]\ndepth = 0\ncolour = 1\n[venues.kraken]\ndepth = 25\n")
    assert main(["plugins", "validate", "binance", "--config", str(path)]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out == [
        f"{path}: venues.binance: unknown key(s) ['colour']; valid: ['channels', 'depth', 'feed', "
        "'key_env', 'rest_url', 'secret_env', 'source', 'symbols', 'ws_url']",
        f"{path}: venues.binance.depth must be a positive integer",
    ]
    assert main(["plugins", "validate", "kraken", "--config", str(path)]) == 0
    assert capsys.readouterr().out == f"{path}: venues.kraken: ok\n"
    for argv, error in [
        (["nasdaq", "--config", str(path)], "unknown venue 'nasdaq'; known venues: "),
        (["binance", "--config", str(tmp_path / "no.toml")], "cannot read config file"),
        (["coinbase", "--config", str(path)], "no [venues.coinbase] table (the file configur"),
    ]:
        assert main(["plugins", "validate", *argv]) == 2
        err = capsys.readouterr().err
        assert err.startswith("mdc plugins: error: ") and error in err and err.count("\n") == 1


def test_plugins_help_and_the_installed_command(capsys):
    for argv in (["plugins", "--help"], ["plugins", "list", "--help"]):
        with pytest.raises(SystemExit):
            main([*argv])
    with pytest.raises(SystemExit):
        main(["plugins", "validate", "--help"])
    assert "--config FILE" in capsys.readouterr().out
    done = subprocess.run(
        [sys.executable, "-m", "mdc.cli", "plugins", "list"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0 and done.stdout.startswith("ID ")


# -- simulator encoders by entry point ----------------------------------------------------


def test_the_simulator_finds_the_built_in_encoders_by_entry_point():
    assert set(BUILT_IN) <= set(simulator_venue_names())
    assert simulator_venue_class("binance") is BinanceVenue
    assert simulator_venue_class("kraken") is KrakenVenue
    assert KrakenVenue.default_ws_path == "/v2" and KrakenVenue.collector_channels


def test_an_unknown_simulator_venue_names_the_installed_ones():
    with pytest.raises(UnknownSimulatorVenue) as info:
        simulator_venue_class("nasdaq")
    assert "no simulator speaks 'nasdaq'; installed: alpaca, binance, coinbase" in str(info.value)
    with pytest.raises(UnknownSimulatorVenue, match=r"venues: unknown \['nasdaq'\]; installed"):
        SimulatorConfig(venues=("nasdaq",))


SIM = """
from mdc.simulator.encoders.binance import BinanceVenue
from mdc.venues.binance import Binance


class PlantedSim(BinanceVenue):
    name = "planted"
    instruments = {}
    default_ws_path = "/planted"


class Planted(Binance):
    name = "planted"
"""


def test_a_third_party_simulator_serves_its_venue(plant, tmp_path):
    plant(
        "planted-venue",
        {
            "mdc.simulator_venues": {"planted": f"{PLANTED}_sim:PlantedSim"},
            "mdc.venues": {"planted": f"{PLANTED}_sim:Planted"},
        },
        {f"{PLANTED}_sim": SIM},
    )
    config = SimulatorConfig(venues=("planted",), symbols={"planted": ("ABC-USD",)})
    driver = VenueDriver("planted", config)
    assert driver.venue.default_ws_path == "/planted"
    assert driver.advance(10**18) and list(driver.model.symbols) == ["ABC-USD"]
    with pytest.raises(ConfigError, match="the planted simulator has no default instruments"):
        SimulatorConfig(venues=("planted",)).specs("planted")
    path = tmp_path / "mdc.toml"
    path.write_text('[venues.planted]\nsymbols = ["ABC-USD"]\n')
    (settings,) = load_config(str(path)).venues
    assert settings.simulated and settings.session.symbols == ("ABC-USD",)
