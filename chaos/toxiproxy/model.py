"""Request decoding and JSON shapes of the Toxiproxy API, and each proxy's toxic list.

Pure logic (no sockets): checks run in Toxiproxy's order and fail with its exact messages,
so the HTTP layer only maps `ToxiproxyError.status` to a response.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, NoReturn

from chaos.toxiproxy.errors import (
    BadRequest,
    InvalidStream,
    InvalidToxicity,
    InvalidToxicType,
    ListenFailed,
    ToxicExists,
    ToxicNotFound,
)
from chaos.toxiproxy.pipeline import Direction, ToxicSpec
from chaos.toxiproxy.toxics.base import Toxic

DEFAULT_LISTEN = "127.0.0.1:0"
"""Where a proxy without `listen` binds. Toxiproxy binds every interface; we stay on loopback."""

_GO_KINDS = {
    bool: "bool",
    str: "string",
    dict: "object",
    list: "array",
    int: "number",
    float: "number",
}


def decode_body(raw: bytes, go_type: str) -> Any:
    """JSON body -> value; failures read like Go's decoder errors after `bad request body: `."""
    text = raw.decode("utf-8", errors="replace")
    if not text.strip():
        raise BadRequest("bad request body: EOF")
    try:
        value = json.loads(text, parse_constant=_not_json)
    except json.JSONDecodeError as exc:
        if exc.pos >= len(text.rstrip()):
            raise BadRequest("bad request body: unexpected EOF") from exc
        char = text[exc.pos]
        raise BadRequest(
            f"bad request body: invalid character {char!r} looking for beginning of value"
        ) from exc
    expected = list if go_type.startswith("[]") else dict
    if not isinstance(value, expected):
        kind = "null" if value is None else _GO_KINDS[type(value)]
        raise BadRequest(
            f"bad request body: json: cannot unmarshal {kind} into Go value of type {go_type}"
        )
    return value


def _not_json(name: str) -> NoReturn:
    """NaN and Infinity are not JSON: Python's decoder takes them, Go's (Toxiproxy's) does not,
    and a NaN taken in would be echoed back as invalid JSON."""
    if name.startswith("-"):
        raise BadRequest(f"bad request body: invalid character {name[1]!r} in numeric literal")
    raise BadRequest(
        f"bad request body: invalid character {name[0]!r} looking for beginning of value"
    )


def field(body: Mapping[str, Any], key: str, kind: type, where: str) -> Any:
    """`body[key]` if present and of `kind` (None when absent or null, as Go leaves it)."""
    value = body.get(key)
    if value is None:
        return None
    if kind is float:
        ok = isinstance(value, int | float) and not isinstance(value, bool)
    else:
        ok = isinstance(value, kind)
    if not ok:
        go_kind = "float32" if kind is float else _GO_KINDS[kind]
        raise BadRequest(
            f"bad request body: json: cannot unmarshal {_GO_KINDS[type(value)]} into Go struct "
            f"field {where}.{key} of type {go_kind}"
        )
    return value


def split_host_port(address: str) -> tuple[str, int]:
    """'host:port' or '[v6]:port' -> (host, port); an empty host means loopback here."""
    host, sep, port_text = address.rpartition(":")
    if not sep:
        raise ListenFailed(f"address {address}: missing port in address")
    host = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    if not port_text.isdigit() or int(port_text) > 65535:
        raise ListenFailed(f"address {address}: invalid port")
    return host or "127.0.0.1", int(port_text)


def join_host_port(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def go_number(value: float) -> float | int:
    """Go prints float 1.0 as `1`; keep that so the JSON matches byte for byte."""
    return int(value) if float(value).is_integer() else value


def toxic_json(spec: ToxicSpec) -> dict[str, Any]:
    return {
        "attributes": spec.toxic.to_json(),
        "name": spec.name,
        "type": spec.toxic.name,
        "stream": spec.stream,
        "toxicity": go_number(spec.toxicity),
    }


class ToxicList:
    """One proxy's toxics; names are unique across both streams."""

    def __init__(self, registry: Mapping[str, type[Toxic]]) -> None:
        self._registry = registry
        self._specs: dict[str, ToxicSpec] = {}

    def ordered(self) -> list[ToxicSpec]:
        """Upstream toxics in insertion order, then downstream ones (Toxiproxy's listing)."""
        specs = list(self._specs.values())
        return [s for s in specs if s.direction is Direction.UPSTREAM] + [
            s for s in specs if s.direction is Direction.DOWNSTREAM
        ]

    def of(self, direction: Direction) -> list[ToxicSpec]:
        return [s for s in self._specs.values() if s.direction is direction]

    def get(self, name: str) -> ToxicSpec:
        try:
            return self._specs[name]
        except KeyError:
            raise ToxicNotFound() from None

    def create(self, body: Mapping[str, Any]) -> ToxicSpec:
        """A new toxic from a POST body; checks in Toxiproxy's order."""
        where = "ToxicWrapper"
        stream = field(body, "stream", str, where) or "downstream"
        try:
            direction = Direction(stream.lower())
        except ValueError:
            raise InvalidStream() from None
        type_name = field(body, "type", str, where) or ""
        name = field(body, "name", str, where) or f"{type_name}_{stream}"
        toxicity = _toxicity(body, 1.0)
        cls = self._registry.get(type_name)
        if cls is None:
            raise InvalidToxicType()
        if name in self._specs:
            raise ToxicExists()
        toxic = cls.from_json(field(body, "attributes", dict, where) or {})
        spec = ToxicSpec(name, stream, direction, toxicity, toxic)
        self._specs[name] = spec
        return spec

    def update(self, name: str, body: Mapping[str, Any]) -> ToxicSpec:
        """Merge `attributes` into the current values; keep `toxicity` unless given."""
        old = self.get(name)
        toxicity = _toxicity(body, old.toxicity)
        attributes = field(body, "attributes", dict, "ToxicWrapper") or {}
        toxic = type(old.toxic).from_json(attributes, old.toxic.attrs)
        new = ToxicSpec(
            old.name,
            old.stream,
            old.direction,
            toxicity,
            toxic,
        )
        self._specs[name] = new
        return new

    def remove(self, name: str) -> ToxicSpec:
        spec = self.get(name)
        del self._specs[name]
        return spec

    def clear(self) -> list[ToxicSpec]:
        removed, self._specs = list(self._specs.values()), {}
        return removed


def _toxicity(body: Mapping[str, Any], current: float) -> float:
    """The body's `toxicity`, a probability from 0 to 1, or `current` when it has none."""
    value = field(body, "toxicity", float, "ToxicWrapper")
    if value is None:
        return current
    if not 0 <= value <= 1:  # also false for NaN and the infinity of an overflowing 1e999
        raise InvalidToxicity(value)
    return float(value)
