"""Structs: msgspec's class options, constructor, equality and hashing, in plain Python."""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Any


class DecodeError(ValueError):
    """Input that is not valid JSON for the type asked for (msgspec.DecodeError)."""


class ValidationError(DecodeError):
    """Valid JSON of the wrong shape or type (msgspec.ValidationError)."""


class _NoDefault:
    def __repr__(self) -> str:
        return "NODEFAULT"


NODEFAULT: Any = _NoDefault()


class Raw(bytes):
    """Undecoded JSON text (msgspec.Raw)."""


@dataclass(frozen=True)
class _Field:
    default: Any = NODEFAULT
    default_factory: Any = NODEFAULT
    name: str | None = None


def field(*, default: Any = NODEFAULT, default_factory: Any = NODEFAULT, name: Any = None) -> Any:
    return _Field(default, default_factory, name)


@dataclass(frozen=True)
class StructConfig:
    frozen: bool = False
    array_like: bool = False
    tag: str | None = None
    tag_field: str | None = None
    omit_defaults: bool = False
    forbid_unknown_fields: bool = False
    rename: Any = None


_OPTIONS = set(StructConfig.__dataclass_fields__)


def _config(cls: type, options: dict[str, Any]) -> StructConfig:
    """The class's options over its base's, msgspec's way: `tag=True` is the class name, and a
    tag without a tag field uses "type"."""
    base = getattr(cls, "__struct_config__", StructConfig())
    known = {k: v for k, v in options.items() if k in _OPTIONS}
    merged = {name: getattr(base, name) for name in _OPTIONS} | known
    if known.get("tag") is True:
        merged["tag"] = cls.__name__
    if merged["tag"] is not None and merged["tag_field"] is None:
        merged["tag_field"] = "type"
    return StructConfig(**merged)


def _is_class_var(annotation: Any) -> bool:
    text = annotation if isinstance(annotation, str) else repr(annotation)
    return text.startswith(("ClassVar", "typing.ClassVar"))


class Struct:
    """A msgspec.Struct stand-in: fields from annotations, base fields first."""

    __struct_fields__: tuple[str, ...] = ()
    __struct_encode_fields__: tuple[str, ...] = ()
    __struct_defaults__: dict[str, _Field] = {}
    __struct_config__ = StructConfig()

    def __init_subclass__(cls, **options: Any) -> None:
        super().__init_subclass__()
        cls.__struct_config__ = _config(cls, options)
        defaults = dict(cls.__struct_defaults__)
        names = list(cls.__struct_fields__)
        for name, annotation in inspect.get_annotations(cls).items():
            if _is_class_var(annotation):
                continue
            value = cls.__dict__.get(name, NODEFAULT)
            if not isinstance(value, _Field):
                value = _Field(default=value)
            defaults[name] = value
            if name in cls.__dict__:
                delattr(cls, name)
            if name not in names:
                names.append(name)
        cls.__struct_fields__ = tuple(names)
        cls.__struct_encode_fields__ = tuple(defaults[n].name or n for n in names)
        cls.__struct_defaults__ = defaults
        cls.__match_args__ = tuple(names)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        names = type(self).__struct_fields__
        if len(args) > len(names):
            raise TypeError(f"{type(self).__name__}: too many positional arguments")
        values = dict(zip(names, args, strict=False))
        for name, value in kwargs.items():
            if name not in names or name in values:
                raise TypeError(f"{type(self).__name__}: unexpected or repeated argument {name}")
            values[name] = value
        for name in names[len(args) :]:
            if name not in values:
                values[name] = self._default(name)
        for name in names:
            object.__setattr__(self, name, values[name])

    def _default(self, name: str) -> Any:
        spec = type(self).__struct_defaults__[name]
        if spec.default_factory is not NODEFAULT:
            return spec.default_factory()
        if spec.default is NODEFAULT:
            raise TypeError(f"{type(self).__name__}: missing required argument {name!r}")
        return spec.default

    def __setattr__(self, name: str, value: Any) -> None:
        if type(self).__struct_config__.frozen:
            raise AttributeError(f"immutable type: {type(self).__name__}")
        object.__setattr__(self, name, value)

    def _values(self) -> tuple[Any, ...]:
        return tuple(getattr(self, name) for name in type(self).__struct_fields__)

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and self._values() == other._values()  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        if not type(self).__struct_config__.frozen:
            raise TypeError(f"unhashable type: {type(self).__name__}")
        return hash((type(self), self._values()))

    def __repr__(self) -> str:
        body = ", ".join(f"{n}={getattr(self, n)!r}" for n in type(self).__struct_fields__)
        return f"{type(self).__name__}({body})"


def defstruct(name: str, fields: Any, *, bases: tuple[type, ...] = (), **options: Any) -> type:
    """A struct type from (name, type[, default]) entries, as msgspec.defstruct."""
    annotations: dict[str, Any] = {}
    namespace: dict[str, Any] = {"__annotations__": annotations}
    for entry in fields:
        if isinstance(entry, str):
            annotations[entry] = Any
            continue
        annotations[entry[0]] = entry[1]
        if len(entry) > 2:
            namespace[entry[0]] = entry[2]
    options = {k: v for k, v in options.items() if k in _OPTIONS}
    return type(name, bases or (Struct,), namespace, **options)
