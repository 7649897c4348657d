"""The TOML config: defaults, overrides, and one clear message naming the key for each mistake."""

import pytest

from mdc.config import load_config
from mdc.errors import ConfigError


def write(tmp_path, text: str) -> str:
    path = tmp_path / "mdc.toml"
    path.write_text(text)
    return str(path)


def test_defaults_are_every_venue_on_the_simulator(monkeypatch):
    monkeypatch.delenv("MDC_DATA_DIR", raising=False)
    config = load_config(None)
    assert [v.name for v in config.venues] == ["binance", "coinbase", "kraken", "alpaca"]
    assert all(v.simulated for v in config.venues)
    assert config.data_dir == "./data"
    kraken = next(v for v in config.venues if v.name == "kraken")
    assert kraken.session.channels == ("book", "trade")  # the simulator has no ticker channel


def test_file_then_command_line_overrides(tmp_path):
    path = write(
        tmp_path,
        'data_dir = "/x"\n[venues.binance]\nsymbols = ["SOL-USDT"]\n'
        '[venues.kraken]\nsymbols = ["BTC-USD"]\ndepth = 25\n',
    )
    config = load_config(path, data_dir="/y", venues="kraken")
    assert config.data_dir == "/y"
    (kraken,) = config.venues
    assert kraken.session.symbols == ("BTC-USD",) and kraken.session.depth == 25


def test_live_venue_takes_keys_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("MY_KEY", "k")
    monkeypatch.setenv("MY_SECRET", "s")
    path = write(
        tmp_path,
        '[venues.alpaca]\nsymbols = ["AAPL"]\nsource = "live"\n'
        'key_env = "MY_KEY"\nsecret_env = "MY_SECRET"\n',
    )
    (alpaca,) = load_config(path).venues
    assert (alpaca.session.key, alpaca.session.secret) == ("k", "s")
    assert not alpaca.simulated and alpaca.ws_url.startswith("wss://")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("data_dir = ", "not valid TOML"),
        ("colour = 1", "unknown key(s) ['colour']"),
        ("[venues.nasdaq]", "venues.nasdaq: unknown venue"),
        ('[venues.binance]\nsymbols = "BTC-USDT"', "venues.binance.symbols must be a list"),
        ("[venues.binance]\nsymbols = []", "venues.binance.symbols must list at least one"),
        ("[venues.binance]\ndepth = 0", "venues.binance.depth must be a positive integer"),
        ('[venues.binance]\nsource = "paper"', "venues.binance.source must be one of"),
        ('[venues.alpaca]\nkey = "abc"', "never put keys in the file"),
        (
            '[venues.alpaca]\nsource = "live"\nkey_env = "NOPE_K"\nsecret_env = "NOPE_S"',
            "environment variable NOPE_K is not set",
        ),
        ("[venues.binance]\nsymbol = ['X']", "unknown key(s) ['symbol']"),
        ("venues = 3", "[venues] must name at least one venue table"),
    ],
)
def test_mistakes_name_the_key(tmp_path, monkeypatch, text, message):
    monkeypatch.delenv("NOPE_K", raising=False)
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, text))
    assert message in str(info.value)


def test_missing_file_and_unconfigured_venue_selection(tmp_path):
    with pytest.raises(ConfigError, match="cannot read config file"):
        load_config(str(tmp_path / "missing.toml"))
    with pytest.raises(ConfigError, match=r"--venues: \['bitmex'\] not configured"):
        load_config(None, venues="binance,bitmex")


def test_api_key_hashes_come_from_the_file_and_never_a_key(tmp_path):
    from serve.auth import AuthResult, KeyRing, key_hash

    digest = key_hash("s3cret")
    path = tmp_path / "mdc.toml"
    path.write_text(f'[api]\nkey_hashes = ["{digest}"]\n')
    config = load_config(str(path))
    assert config.api_key_hashes == (digest,)
    keys = KeyRing(hashes=config.api_key_hashes)
    assert keys.check("s3cret") is AuthResult.OK and keys.check("other") is AuthResult.WRONG
    path.write_text('[api]\nkeys = ["s3cret"]\n')
    with pytest.raises(ConfigError, match=r"\[api\] takes only \['key_hashes'\]"):
        load_config(str(path))
