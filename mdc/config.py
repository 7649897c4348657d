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
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import urlsplit

from mdc.configfile import read_config_text
from mdc.errors import ConfigError, UnknownVenue
from mdc.keyhash import parse_key_hash
from mdc.simulator.registry import simulator_venue_class, simulator_venue_names
from mdc.venues.base import SessionConfig, Venue
from mdc.venues.contract import ContractError
from mdc.venues.registry import venue_class, venue_names

SOURCES = ("simulator", "live")
DEFAULT_SYMBOLS = {
    "binance": ("BTC-USDT", "ETH-USDT"),
    "coinbase": ("BTC-USD", "ETH-USD"),
    "kraken": ("BTC-USD", "ETH-USD"),
    "alpaca": ("AAPL", "MSFT"),
}
"""The built-in venues' symbols when a table names none (and with no file, the venues run)."""
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
SECRET_KEYS = ("key", "secret")
"""Keys that would put a credential in the file: refused with a hint, never echoed."""
ENV_KEYS = ("key_env", "secret_env")
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
        if not venue_class(self.name).capabilities.auth:
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
    raw = read_config(path) if path else {}
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


def read_config(path: str) -> dict[str, Any]:
    """The file's TOML as a dict; a ConfigError naming the file when it cannot be read."""
    text = read_config_text(path)
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from exc


def _venue(name: str, body: Any, where: str) -> VenueSettings:
    """The table's settings; its first problem (of `venue_table_problems`) as a ConfigError."""
    key = f"{where}: venues.{name}"
    venue = _venue_class(name, key)
    problems = venue_table_problems(venue, body, key)
    if problems:
        more = (
            f" (and {len(problems) - 1} more: `mdc plugins validate {name} --config {where}` "
            "lists them all)"
            if len(problems) > 1
            else ""
        )
        raise ConfigError(problems[0] + more)
    source = body.get("source", "simulator")
    channels = body.get("channels", _simulator_channels(name) if source == "simulator" else ())
    session = SessionConfig(
        tuple(body.get("symbols", DEFAULT_SYMBOLS.get(name, ()))),
        tuple(channels),
        *_keys(body, source),
        depth=body.get("depth"),
        feed=body.get("feed"),
    )
    ws_url = body.get("ws_url") or venue.default_ws_url
    rest_url = body.get("rest_url") or venue.default_rest_url
    return VenueSettings(name, session, source == "simulator", ws_url, rest_url)


def _venue_class(name: str, key: str) -> type[Venue]:
    try:
        return venue_class(name)
    except UnknownVenue as exc:
        raise ConfigError(f"{key}: unknown venue; known: {', '.join(venue_names())}") from exc
    except ContractError as exc:
        raise ConfigError(f"{key}: {exc}") from exc


def _simulator_channels(name: str) -> tuple[str, ...]:
    """What the venue's simulator serves when that differs from the venue's defaults."""
    return simulator_venue_class(name).collector_channels


def _keys(body: Mapping[str, Any], source: str) -> tuple[str | None, str | None]:
    """The credentials from the environment variables the (checked) table names, when live."""
    if source != "live" or not any(field in body for field in ENV_KEYS):
        return None, None
    return os.environ[body["key_env"]], os.environ[body["secret_env"]]


# The checks of one [venues.NAME] table. The loader raises the first problem, and
# `Venue.validate_config` (`mdc plugins validate`) lists them all: both run this one list, so
# they always agree. Each check gets the venue class, the table and the key to name, and returns
# its problems, one line each.


def venue_table_problems(venue: type[Venue], body: object, key: str) -> list[str]:
    """Every problem of the table, one line each naming the key; never raises."""
    if not isinstance(body, Mapping):
        return [f"{key} must be a table"]
    problems = [line for check in _TABLE_CHECKS for line in check(venue, body, key)]
    return problems + [f"{key}: {line}" for line in _extra_problems(venue, body)]


def _extra_problems(venue: type[Venue], body: Mapping[str, Any]) -> list[str]:
    try:
        return [str(line) for line in venue.extra_config_problems(body)]
    except Exception as exc:  # a plugin's own check is its code: a crash there is a problem too
        return [f"the venue's own check failed: {type(exc).__name__}: {exc}"]


def _secrets_in_file(venue: type[Venue], body: Mapping[str, Any], key: str) -> list[str]:
    if not any(field in body for field in SECRET_KEYS):
        return []
    return [
        f"{key}: never put keys in the file; name environment variables with "
        "key_env and secret_env instead"
    ]


def _unknown_keys(venue: type[Venue], body: Mapping[str, Any], key: str) -> list[str]:
    unknown = set(body) - VENUE_KEYS - set(SECRET_KEYS)
    if not unknown:
        return []
    return [f"{key}: unknown key(s) {sorted(unknown)}; valid: {sorted(VENUE_KEYS)}"]


def _source(venue: type[Venue], body: Mapping[str, Any], key: str) -> list[str]:
    source = body.get("source", "simulator")
    if source not in SOURCES:
        return [f"{key}.source must be one of {list(SOURCES)}, not {source!r}"]
    simulators = simulator_venue_names()
    if source == "simulator" and venue.name not in simulators:
        return [
            f"{key}.source: no simulator speaks {venue.name} (installed: {', '.join(simulators)});"
            ' set source = "live" or install one'
        ]
    return []


def _symbols(venue: type[Venue], body: Mapping[str, Any], key: str) -> list[str]:
    symbols = body.get("symbols", DEFAULT_SYMBOLS.get(venue.name, ()))
    if not _is_strings(symbols):
        return [f"{key}.symbols must be a list of strings"]
    if not symbols:
        return [f"{key}.symbols must list at least one symbol"]
    return []


def _channels(venue: type[Venue], body: Mapping[str, Any], key: str) -> list[str]:
    if "channels" in body and not _is_strings(body["channels"]):
        return [f"{key}.channels must be a list of strings"]
    return []


def _depth(venue: type[Venue], body: Mapping[str, Any], key: str) -> list[str]:
    depth = body.get("depth")
    if depth is not None and (type(depth) is not int or depth < 1):
        return [f"{key}.depth must be a positive integer"]
    return []


def _feed(venue: type[Venue], body: Mapping[str, Any], key: str) -> list[str]:
    if "feed" in body and not isinstance(body["feed"], str):
        return [f"{key}.feed must be a string"]
    return []


def _urls(venue: type[Venue], body: Mapping[str, Any], key: str) -> list[str]:
    """Each endpoint the file sets: an absolute URL of a scheme the field takes."""
    return [
        f"{key}.{field} must be a {' or '.join(s + '://' for s in schemes)} URL with a host, "
        f"not {body[field]!r}"
        for field, schemes in URL_SCHEMES.items()
        if field in body and not _is_url(body[field], schemes)
    ]


def _credentials(venue: type[Venue], body: Mapping[str, Any], key: str) -> list[str]:
    """Live: a venue that needs auth, or a table naming either variable, needs both set."""
    needs = venue.capabilities.auth or any(field in body for field in ENV_KEYS)
    if body.get("source") != "live" or not needs:
        return []
    problems = []
    for field in ENV_KEYS:
        env = body.get(field)
        if not isinstance(env, str) or not env:
            why = f" ({venue.name} needs a key and secret)" if venue.capabilities.auth else ""
            problems.append(f"{key}.{field} must name an environment variable{why}")
        elif not os.environ.get(env):
            problems.append(f"{key}.{field}: environment variable {env} is not set")
    return problems


_TABLE_CHECKS: tuple[Callable[[type[Venue], Mapping[str, Any], str], list[str]], ...] = (
    _secrets_in_file,
    _unknown_keys,
    _source,
    _symbols,
    _channels,
    _depth,
    _feed,
    _urls,
    _credentials,
)


def _is_url(value: object, schemes: tuple[str, ...]) -> bool:
    if not isinstance(value, str) or any(c.isspace() for c in value):
        return False
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError when out of range or not a number
    except ValueError:
        return False
    return parts.scheme in schemes and bool(parts.hostname)


def _strings(value: Any, key: str) -> tuple[str, ...]:
    if not _is_strings(value):
        raise ConfigError(f"{key} must be a list of strings")
    return tuple(value)


def _is_strings(value: object) -> bool:
    return isinstance(value, list | tuple) and all(isinstance(v, str) for v in value)
