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


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            '[venues.binance]\nws_url = "not a url"',
            "venues.binance.ws_url must be a ws:// or wss:// URL with a host, not 'not a url'",
        ),
        ('[venues.kraken]\nws_url = "https://ws.kraken.com"', "venues.kraken.ws_url must be"),
        ('[venues.kraken]\nws_url = "wss://"', "venues.kraken.ws_url must be"),
        ('[venues.kraken]\nws_url = "wss://h:99999"', "venues.kraken.ws_url must be"),
        ("[venues.binance]\nrest_url = 3", "venues.binance.rest_url must be a http:// or https://"),
        ('[venues.coinbase]\nrest_url = "ftp://x"', "venues.coinbase.rest_url must be"),
    ],
)
def test_endpoints_must_be_urls_of_their_kind(tmp_path, text, message):
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, text))
    assert message in str(info.value)


def test_configured_endpoints_are_kept(tmp_path):
    text = '[venues.binance]\nws_url = "ws://127.0.0.1:9001/ws"\nrest_url = "http://[::1]:80"'
    (binance,) = load_config(write(tmp_path, text)).venues
    assert (binance.ws_url, binance.rest_url) == ("ws://127.0.0.1:9001/ws", "http://[::1]:80")


@pytest.mark.parametrize("entry", ["s3cret", "sha256:abc", "sha256:" + "g" * 64, "md5:" + "0" * 64])
def test_malformed_key_hashes_are_refused_at_load_without_echoing_them(tmp_path, entry):
    good = "sha256:" + "0" * 64
    path = write(tmp_path, f'[api]\nkey_hashes = ["{good}", "{entry}"]\n')
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert "api.key_hashes[1] is not a key digest: use sha256:<64 hex digits>" in str(info.value)
    assert entry not in str(info.value)


def test_a_file_that_is_not_utf8_is_one_clear_error(tmp_path):
    path = tmp_path / "mdc.toml"
    path.write_bytes(b'data_dir = "caf\xe9"\n')
    with pytest.raises(ConfigError) as info:
        load_config(str(path))
    assert str(info.value) == (
        f"cannot read config file {path}: not UTF-8 text (byte 0xe9 at offset 15); save it as UTF-8"
    )
