"""The collector's TOML configuration: venues, symbols and endpoints; keys from the environment.

    data_dir = "./data"

    [venues.binance]
    symbols = ["BTC-USDT", "ETH-USDT"]
    source = "simulator"              # or "live" (the venue's real endpoints, or ws_url/rest_url)

    [venues.alpaca]
    symbols = ["AAPL"]
    source = "live"
    feed = "iex"
    key_env = "APCA_API_KEY_ID"       # names of environment variables, never the keys themselves
    secret_env = "APCA_API_SECRET_KEY"

Every mistake is a ConfigError naming the key and what would be valid.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import urlsplit

from mdc.configfile import read_config_text
from mdc.errors import ConfigError, UnknownVenue
from mdc.keyhash import parse_key_hash
from mdc.venues.base import SessionConfig
from mdc.venues.registry import get_venue, venue_names

SOURCES = ("simulator", "live")
DEFAULT_SYMBOLS = {
    "binance": ("BTC-USDT", "ETH-USDT"),
    "coinbase": ("BTC-USD", "ETH-USD"),
    "kraken": ("BTC-USD", "ETH-USD"),
    "alpaca": ("AAPL", "MSFT"),
}
SIMULATOR_CHANNELS = {"kraken": ("book", "trade")}
"""Where the simulator lacks a venue's default channel (Kraken's ticker), the channels it has."""
VENUE_KEYS = {
    "symbols",
    "source",
    "ws_url",
    "rest_url",
    "channels",
    "depth",
    "feed",
    "key_env",
    "secret_env",
}
TOP_KEYS = {"data_dir", "venues", "api"}
API_KEYS = {"key_hashes"}
URL_SCHEMES = {"ws_url": ("ws", "wss"), "rest_url": ("http", "https")}


@dataclass(frozen=True)
class VenueSettings:
    name: str
    session: SessionConfig
    simulated: bool
    ws_url: str
    rest_url: str

    def session_with_keys(self, key: str, secret: str) -> SessionConfig:
        """The simulator's own credentials (it checks them like the venue would)."""
        if not get_venue(self.name).needs_auth:
            return self.session
        return replace(self.session, key=key, secret=secret)


@dataclass(frozen=True)
class CollectorConfig:
    data_dir: str
    venues: tuple[VenueSettings, ...]
    api_key_hashes: tuple[str, ...] = ()
    """`sha256:<hex>` digests of the prediction API's keys (`[api] key_hashes`), so the file
    never holds a key; checked when the API starts."""


def load_config(
    path: str | None, *, data_dir: str | None = None, venues: str | None = None
) -> CollectorConfig:
    """The file (or the defaults: every venue on the simulator), then command-line overrides."""
    raw = _read(path) if path else {}
    where = path or "defaults"
    unknown = set(raw) - TOP_KEYS
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {sorted(unknown)}; valid: {sorted(TOP_KEYS)}")
    table = raw.get("venues", {name: {} for name in DEFAULT_SYMBOLS})
    if not isinstance(table, dict) or not table:
        raise ConfigError(f"{where}: [venues] must name at least one venue table")
    settings = tuple(_venue(name, body, where) for name, body in table.items())
    if venues:
        wanted = [v.strip() for v in venues.split(",") if v.strip()]
        missing = [v for v in wanted if v not in {s.name for s in settings}]
        if missing:
            raise ConfigError(
                f"--venues: {missing} not configured; configured: {[s.name for s in settings]}"
            )
        settings = tuple(s for s in settings if s.name in wanted)
    chosen_dir = data_dir or raw.get("data_dir") or os.environ.get("MDC_DATA_DIR") or "./data"
    if not isinstance(chosen_dir, str):
        raise ConfigError(f"{where}: data_dir must be a string path")
    return CollectorConfig(chosen_dir, settings, _api_key_hashes(raw.get("api", {}), where))


def _api_key_hashes(api: object, where: str) -> tuple[str, ...]:
    """Checked here, not when the API starts: a typo must not wait until collection runs."""
    if not isinstance(api, dict) or set(api) - API_KEYS:
        raise ConfigError(f"{where}: [api] takes only {sorted(API_KEYS)}")
    hashes = _strings(api.get("key_hashes", ()), f"{where}: api.key_hashes")
    for i, text in enumerate(hashes):
        try:
            parse_key_hash(text)
        except ConfigError as exc:  # its message quotes the value, which may be a pasted key
            raise ConfigError(
                f"{where}: api.key_hashes[{i}] is not a key digest: use sha256:<64 hex digits>"
            ) from exc
    return hashes


def _read(path: str) -> dict[str, Any]:
    text = read_config_text(path)
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from exc


def _venue(name: str, body: Any, where: str) -> VenueSettings:
    key = f"{where}: venues.{name}"
    if not isinstance(body, dict):
        raise ConfigError(f"{key} must be a table")
    try:
        venue = get_venue(name)
    except UnknownVenue as exc:
        raise ConfigError(f"{key}: unknown venue; known: {', '.join(venue_names())}") from exc
    if "key" in body or "secret" in body:
        raise ConfigError(
            f"{key}: never put keys in the file; name environment variables with "
            "key_env and secret_env instead"
        )
    unknown = set(body) - VENUE_KEYS
    if unknown:
        raise ConfigError(f"{key}: unknown key(s) {sorted(unknown)}; valid: {sorted(VENUE_KEYS)}")
    source = body.get("source", "simulator")
    if source not in SOURCES:
        raise ConfigError(f"{key}.source must be one of {list(SOURCES)}, not {source!r}")
    symbols = _strings(body.get("symbols", DEFAULT_SYMBOLS.get(name, ())), f"{key}.symbols")
    if not symbols:
        raise ConfigError(f"{key}.symbols must list at least one symbol")
    depth = body.get("depth")
    if depth is not None and (not isinstance(depth, int) or depth < 1):
        raise ConfigError(f"{key}.depth must be a positive integer")
    default_channels = SIMULATOR_CHANNELS.get(name, ()) if source == "simulator" else ()
    session = SessionConfig(
        symbols,
        _strings(body.get("channels", default_channels), f"{key}.channels"),
        *_keys(body, key, source),
        depth=depth,
        feed=body.get("feed"),
    )
    ws_url = _url(body, "ws_url", key) or venue.default_ws_url
    rest_url = _url(body, "rest_url", key) or venue.default_rest_url
    return VenueSettings(name, session, source == "simulator", ws_url, rest_url)


def _url(body: dict, field: str, key: str) -> str | None:
    """The endpoint `field` if the file sets one: an absolute URL of a scheme the field takes."""
    if field not in body:
        return None
    value, schemes = body[field], URL_SCHEMES[field]
    if not _is_url(value, schemes):
        raise ConfigError(
            f"{key}.{field} must be a {' or '.join(s + '://' for s in schemes)} URL with a host, "
            f"not {value!r}"
        )
    return value


def _is_url(value: object, schemes: tuple[str, ...]) -> bool:
    if not isinstance(value, str) or any(c.isspace() for c in value):
        return False
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError when out of range or not a number
    except ValueError:
        return False
    return parts.scheme in schemes and bool(parts.hostname)


def _keys(body: dict, key: str, source: str) -> tuple[str | None, str | None]:
    if source != "live" or ("key_env" not in body and "secret_env" not in body):
        return None, None
    values = []
    for field in ("key_env", "secret_env"):
        env = body.get(field)
        if not isinstance(env, str) or not env:
            raise ConfigError(f"{key}.{field} must name an environment variable")
        value = os.environ.get(env)
        if not value:
            raise ConfigError(f"{key}.{field}: environment variable {env} is not set")
        values.append(value)
    return values[0], values[1]


def _strings(value: Any, key: str) -> tuple[str, ...]:
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{key} must be a list of strings")
    return tuple(value)
