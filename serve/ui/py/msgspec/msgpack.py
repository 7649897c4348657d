"""msgspec.msgpack: constructible (mdc.events builds its coders at import), never used here."""

from __future__ import annotations

from typing import Any


class Encoder:
    def __init__(self, **options: Any) -> None:
        self.options = options

    def encode(self, obj: Any) -> bytes:
        raise NotImplementedError("msgpack is not available in the browser")


class Decoder:
    def __init__(self, type: Any = Any, **options: Any) -> None:
        self.type = type

    def decode(self, data: bytes) -> Any:
        raise NotImplementedError("msgpack is not available in the browser")
