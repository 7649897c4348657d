"""msgspec.structs: field introspection and `replace`, over the stand-in structs."""

from __future__ import annotations

import inspect
import sys
import typing
from dataclasses import dataclass
from typing import Any

from msgspec._core import NODEFAULT, Struct


@dataclass(frozen=True)
class FieldInfo:
    name: str
    encode_name: str
    type: Any
    default: Any = NODEFAULT
    default_factory: Any = NODEFAULT

    @property
    def required(self) -> bool:
        return self.default is NODEFAULT and self.default_factory is NODEFAULT


_HINTS: dict[type, dict[str, Any]] = {}


def _hints(cls: type) -> dict[str, Any]:
    """The resolved annotations of `cls` and its bases (each in its own module's names)."""
    if cls not in _HINTS:
        hints: dict[str, Any] = {}
        for klass in reversed(cls.__mro__):
            if klass is Struct or not issubclass(klass, Struct):
                continue
            module = sys.modules.get(klass.__module__)
            names = dict(vars(module)) if module is not None else {}
            for name, annotation in inspect.get_annotations(klass).items():
                hints[name] = _resolved(annotation, names)
        _HINTS[cls] = hints
    return _HINTS[cls]


def _resolved(annotation: Any, names: dict[str, Any]) -> Any:
    """A string annotation evaluated in its module's names (what typing.get_type_hints does);
    one naming something imported only for type checkers is Any: never decoded through."""
    if not isinstance(annotation, str):
        return annotation
    try:
        return eval(annotation, names, dict(vars(typing)))
    except NameError:
        return Any


def fields(cls: type[Struct] | Struct) -> tuple[FieldInfo, ...]:
    cls = cls if isinstance(cls, type) else type(cls)
    hints = _hints(cls)
    out = []
    for name, encode_name in zip(cls.__struct_fields__, cls.__struct_encode_fields__, strict=True):
        spec = cls.__struct_defaults__[name]
        out.append(
            FieldInfo(name, encode_name, hints.get(name, Any), spec.default, spec.default_factory)
        )
    return tuple(out)


def replace(obj: Struct, **changes: Any) -> Struct:
    values = {name: getattr(obj, name) for name in type(obj).__struct_fields__}
    return type(obj)(**(values | changes))


def asdict(obj: Struct) -> dict[str, Any]:
    return {name: getattr(obj, name) for name in type(obj).__struct_fields__}


def astuple(obj: Struct) -> tuple[Any, ...]:
    return tuple(getattr(obj, name) for name in type(obj).__struct_fields__)
