"""The toxic contract: pure config plus hooks that turn timed items into timed items.

A toxic never sleeps and never keeps per-connection data: it gets a `LinkCtx` (that link's
rng, state and one timer) and returns the items it lets through, each stamped with the
time it may leave. The pipeline does the waiting, the ordering and the toxicity roll.
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Generic, Self, TypeVar

from chaos.toxiproxy.errors import BadRequest

MS = 1_000_000
US = 1_000
_INT64 = range(-(2**63), 2**63)


@dataclass(frozen=True, slots=True)
class Chunk:
    """Bytes that may leave the toxic at `at_ns` (on the link's monotonic clock)."""

    data: bytes
    at_ns: int

    def release_at(self, at_ns: int) -> Chunk:
        """The same bytes held until `at_ns`; never earlier than they arrived."""
        return Chunk(self.data, max(self.at_ns, at_ns))


@dataclass(frozen=True, slots=True)
class Eof:
    """The link's source ended; when it leaves the chain the connection closes."""

    at_ns: int


@dataclass(frozen=True, slots=True)
class Close:
    """Close the whole connection at `at_ns`; `reset` sends an RST instead of a FIN."""

    at_ns: int
    reset: bool = False


Item = Chunk | Eof | Close


@dataclass(slots=True)
class LinkCtx:
    """What one toxic may keep for one link: state, a timer, and the link's rng."""

    rng: random.Random
    state: Any = None
    timer_ns: int | None = None
    fresh: bool = True
    """True when the toxic was present as the connection was accepted (Toxiproxy's linger)."""


A = TypeVar("A")


class Toxic(Generic[A]):
    """Base class: a pass-through. Subclasses set `name`, `attrs_type` and override hooks."""

    name: ClassVar[str]
    attrs_type: ClassVar[type]

    def __init__(self, attrs: A) -> None:
        self.attrs = attrs

    @classmethod
    def from_json(cls, given: Mapping[str, Any], current: A | None = None) -> Self:
        """Merge JSON attributes into `current` (or the defaults); unknown keys are dropped."""
        values = dataclasses.asdict(current if current is not None else cls.attrs_type())  # type: ignore[arg-type]
        for key in values:
            value = given.get(key)
            if value is not None:
                values[key] = _json_int(value, f"{cls.__name__}Toxic.attributes.{key}")
        return cls(cls.attrs_type(**values))

    def to_json(self) -> dict[str, int]:
        return dataclasses.asdict(self.attrs)  # type: ignore[call-overload, no-any-return]

    def new_state(self) -> Any:
        """Per-link state, kept across updates of the toxic (limit_data's count needs that)."""
        return None

    def on_start(self, now_ns: int, ctx: LinkCtx) -> list[Item]:
        """The toxic starts on a link: at accept, when added, and after each update."""
        return []

    def apply(self, chunk: Chunk, ctx: LinkCtx) -> list[Item]:
        return [chunk]

    def on_eof(self, eof: Eof, ctx: LinkCtx) -> list[Item]:
        return [eof]

    def on_timer(self, now_ns: int, ctx: LinkCtx) -> list[Item]:
        """`ctx.timer_ns` has passed (the pipeline cleared it before calling)."""
        return []

    def on_remove(self, now_ns: int, ctx: LinkCtx) -> list[Item]:
        """The toxic is removed from a link it applied to (Toxiproxy's CleanupToxic)."""
        return []


def _json_int(value: Any, where: str) -> int:
    """Attribute values are JSON integers (Go int64); other JSON types get Go's message."""
    if isinstance(value, int) and not isinstance(value, bool) and value in _INT64:
        return value
    kind = {bool: "bool", str: "string", dict: "object", list: "array"}.get(type(value))
    if kind is None:
        kind = f"number {value}"
    raise BadRequest(
        f"bad request body: json: cannot unmarshal {kind} into Go struct field {where}"
        " of type int64"
    )
