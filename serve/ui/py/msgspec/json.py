"""msgspec.json: encoding to and decoding from JSON through type annotations, in pure Python."""

from __future__ import annotations

import json as _json
import types
import typing
from decimal import Decimal, InvalidOperation
from typing import Any

from msgspec import structs
from msgspec._core import NODEFAULT, DecodeError, Raw, Struct, ValidationError


class Encoder:
    """JSON of structs (with their tag), Decimals as strings, tuples as arrays."""

    def __init__(self, **options: Any) -> None:
        self.options = options

    def encode(self, obj: Any) -> bytes:
        return _json.dumps(_plain(obj), separators=(",", ":"), ensure_ascii=False).encode()


def encode(obj: Any, **options: Any) -> bytes:
    return Encoder(**options).encode(obj)


def _plain(obj: Any) -> Any:
    if isinstance(obj, Struct):
        config = type(obj).__struct_config__
        out: dict[str, Any] = {}
        if config.tag is not None:
            out[config.tag_field] = config.tag
        for info in structs.fields(obj):
            out[info.encode_name] = _plain(getattr(obj, info.name))
        return list(out.values()) if config.array_like else out
    if isinstance(obj, Decimal):
        return str(obj)
    if isinstance(obj, (tuple, list)):
        return [_plain(item) for item in obj]
    if isinstance(obj, dict):
        return {key: _plain(value) for key, value in obj.items()}
    return obj


class Decoder:
    """Values of `type` from JSON text, checked as msgspec checks them."""

    def __init__(self, type: Any = Any, **options: Any) -> None:
        self.type = type

    def decode(self, data: bytes | str) -> Any:
        try:
            value = _json.loads(data, parse_float=Decimal)
        except (ValueError, UnicodeDecodeError) as exc:
            raise DecodeError(f"invalid JSON: {exc}") from None
        return convert(value, self.type, "$")


def decode(data: bytes | str, *, type: Any = Any) -> Any:
    return Decoder(type).decode(data)


def convert(value: Any, tp: Any, path: str) -> Any:
    """`value` (parsed JSON) as `tp`; ValidationError names the path at fault."""
    if tp is Any or tp is object:
        return value
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin is typing.Annotated:
        return convert(value, args[0], path)
    if origin is typing.Literal:
        if value in args:
            return value
        raise ValidationError(f"Invalid enum value {value!r} - at `{path}`")
    if origin in (typing.Union, types.UnionType):
        return _union(value, args, path)
    if origin in (tuple, list):
        return _sequence(value, origin, args, path)
    if isinstance(tp, type) and issubclass(tp, Struct):
        return _struct(value, tp, path)
    return _scalar(value, tp, path)


def _scalar(value: Any, tp: Any, path: str) -> Any:
    if tp is None or tp is type(None):
        if value is None:
            return None
    elif tp is Decimal:
        if isinstance(value, (str, int, Decimal)) and not isinstance(value, bool):
            try:
                return Decimal(value)
            except InvalidOperation:
                pass
    elif tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif tp is Raw:
        return Raw(_json.dumps(value).encode())
    elif isinstance(value, tp):
        return value
    raise ValidationError(f"Expected `{getattr(tp, '__name__', tp)}`, got {value!r} - at `{path}`")


def _union(value: Any, args: tuple[Any, ...], path: str) -> Any:
    if value is None and type(None) in args:
        return None
    tagged = [a for a in args if isinstance(a, type) and issubclass(a, Struct)]
    if tagged and isinstance(value, dict):
        field = tagged[0].__struct_config__.tag_field
        for struct in tagged:
            if struct.__struct_config__.tag == value.get(field):
                return _struct(value, struct, path)
        if len(tagged) > 1:
            raise ValidationError(f"Invalid value {value.get(field)!r} - at `{path}.{field}`")
    for option in args:
        if option is type(None):
            continue
        try:
            return convert(value, option, path)
        except ValidationError:
            continue
    raise ValidationError(f"Expected one of {args}, got {value!r} - at `{path}`")


def _sequence(value: Any, origin: type, args: tuple[Any, ...], path: str) -> Any:
    if not isinstance(value, list):
        raise ValidationError(f"Expected `array`, got {value!r} - at `{path}`")
    if origin is tuple and args and args[-1] is not Ellipsis:
        if len(args) != len(value):
            raise ValidationError(f"Expected `array` of length {len(args)} - at `{path}`")
        return tuple(
            convert(v, a, f"{path}[{i}]") for i, (v, a) in enumerate(zip(value, args, strict=False))
        )
    item = args[0] if args else Any
    items = [convert(v, item, f"{path}[{i}]") for i, v in enumerate(value)]
    return tuple(items) if origin is tuple else items


def _struct(value: Any, struct: type, path: str) -> Any:
    infos = structs.fields(struct)
    config = struct.__struct_config__
    if config.array_like and isinstance(value, list):
        value = dict(zip((i.encode_name for i in infos), value, strict=False))
    if not isinstance(value, dict):
        raise ValidationError(f"Expected `object`, got {value!r} - at `{path}`")
    kwargs = {}
    for info in infos:
        if info.encode_name in value:
            raw = value[info.encode_name]
            kwargs[info.name] = convert(raw, info.type, f"{path}.{info.encode_name}")
        elif info.required:
            raise ValidationError(
                f"Object missing required field `{info.encode_name}` - at `{path}`"
            )
        elif info.default_factory is not NODEFAULT:
            kwargs[info.name] = info.default_factory()
    return struct(**kwargs)
