"""The part of msgspec that mdc's core uses, in pure Python, for the browser (Pyodide).

msgspec is a C extension and Pyodide offline can load only pure Python, so the dashboard ships
this stand-in instead: structs with msgspec's constructor, defaults, equality, hashing, repr and
config (`__struct_config__`, `__struct_fields__`), `msgspec.structs` introspection, and JSON
encoding and decoding through type annotations (tagged unions of structs, Decimal from text or
numbers, tuples, literals). mdc's events, book, book syncs and features then run unchanged on it.
msgpack is not available. The server never imports this: it is served to browsers only.
"""

from msgspec import json, msgpack, structs
from msgspec._core import (
    NODEFAULT,
    DecodeError,
    Raw,
    Struct,
    StructConfig,
    ValidationError,
    defstruct,
    field,
)

__all__ = [
    "NODEFAULT",
    "DecodeError",
    "Raw",
    "Struct",
    "StructConfig",
    "ValidationError",
    "defstruct",
    "field",
    "json",
    "msgpack",
    "structs",
]
