"""What a live subscriber asked for, checked once: kind, venues, symbol globs, start, policy.

Every transport (gRPC, WebSocket) builds a `Subscription` from its own request shape and gets
the same answers: a `BadSubscription` names the field at fault and says whether the value is
malformed (`INVALID_ARGUMENT`) or outside what the log holds (`OUT_OF_RANGE`). The filter is by
stream name, so the events a subscriber does not want are never read for it, let alone encoded.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass

from mdc.errors import LocalMisuse
from mdc.store.follow import BadPosition, Position
from mdc.store.streams import Stream

MAX_LEVELS = 1000
BAR_INTERVALS_S = (1, 60, 3600)
_GLOB = re.compile(r"[A-Za-z0-9._/:*?-]+")


class Kind(enum.Enum):
    """A stream a subscriber can ask for, and the stored family it is made from."""

    TRADES = "trades"
    QUOTES = "quotes"
    DEPTH = "depth"
    BARS = "bars"
    EVENTS = "events"

    @property
    def families(self) -> tuple[str, ...]:
        return _FAMILIES[self]


_FAMILIES = {
    Kind.TRADES: ("trades",),
    Kind.QUOTES: ("quotes",),
    Kind.DEPTH: ("book",),
    Kind.BARS: ("trades",),
    Kind.EVENTS: ("trades", "book", "status"),
}


class Policy(enum.Enum):
    """What a subscriber's full queue falls back on (see `outbox.py`)."""

    CONFLATE = 1
    DROP_WITH_GAP = 2
    DISCONNECT = 3


DEFAULT_POLICY = {
    Kind.TRADES: Policy.DISCONNECT,
    Kind.QUOTES: Policy.CONFLATE,
    Kind.DEPTH: Policy.CONFLATE,
    Kind.BARS: Policy.DISCONNECT,
    Kind.EVENTS: Policy.DISCONNECT,
}
"""Trades and bars must not be thinned: a slow client is cut off and resumes from its last
position with nothing missed. Quotes and depth are states: the latest one is what matters."""


class BadSubscription(LocalMisuse):
    """A request field no subscription can be built from; `field` names it."""

    def __init__(self, field: str, message: str, *, out_of_range: bool = False) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.out_of_range = out_of_range


@dataclass(frozen=True, slots=True)
class Live:
    """From what becomes durable next."""


@dataclass(frozen=True, slots=True)
class FromTime:
    """The stored events received at or after `ns`, then live."""

    ns: int


@dataclass(frozen=True, slots=True)
class FromPosition:
    """After a position a stream handed out (a batch's resume token), then live."""

    position: Position


Start = Live | FromTime | FromPosition


@dataclass(frozen=True, slots=True)
class SymbolPatterns:
    """Exact symbols or globs (`*`, `?`); none means every symbol."""

    patterns: tuple[str, ...] = ()
    regex: re.Pattern[str] | None = None

    @classmethod
    def parse(cls, patterns: Collection[str], field: str = "symbols") -> SymbolPatterns:
        for pattern in patterns:
            if not _GLOB.fullmatch(pattern):
                raise BadSubscription(
                    field,
                    f"malformed symbol pattern {pattern!r}: letters, digits, '.', '_', '/', "
                    "':', '-' and the wildcards '*' and '?' only",
                )
        if not patterns:
            return cls()
        return cls(tuple(patterns), re.compile("|".join(map(_glob_regex, patterns))))

    def matches(self, symbol: str) -> bool:
        return self.regex is None or self.regex.fullmatch(symbol) is not None


def _glob_regex(pattern: str) -> str:
    """The checked glob as a regex: only `*` and `?` are special."""
    return "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)


@dataclass(frozen=True, slots=True)
class Subscription:
    kind: Kind
    venues: frozenset[str]  # empty: every venue
    symbols: SymbolPatterns
    start: Start
    policy: Policy
    levels: int = 0  # depth only
    conflate_ns: int = 0  # depth only
    interval_s: int = 0  # bars only

    def wants(self, stream: Stream) -> bool:
        """Whether events of `stream` are this subscription's input."""
        return (
            stream.family in self.kind.families
            and (not self.venues or stream.venue in self.venues)
            and (self.symbols.matches(stream.symbol) or self._venue_wide(stream))
        )

    def _venue_wide(self, stream: Stream) -> bool:
        """A connection's status stream (symbol ""): part of every instrument's events."""
        return self.kind is Kind.EVENTS and stream.family == "status" and not stream.symbol


def subscription(
    kind: Kind,
    *,
    venues: Collection[str],
    symbols: Collection[str],
    start: Start,
    policy: Policy | None,
    known_venues: Collection[str],
    levels: int = 0,
    conflate_ms: int = 0,
    interval_s: int = 0,
) -> Subscription:
    """A checked subscription; `known_venues` are the venues this server collects or stores."""
    unknown = sorted(set(venues) - set(known_venues))
    if unknown:
        raise BadSubscription(
            "venues", f"unknown venue {unknown[0]!r}: this server has {sorted(known_venues)}"
        )
    if kind is Kind.DEPTH and not 1 <= levels <= MAX_LEVELS:
        raise BadSubscription("levels", f"depth of {levels}: ask for 1 to {MAX_LEVELS} levels")
    if kind is Kind.BARS and interval_s not in BAR_INTERVALS_S:
        raise BadSubscription("interval_s", f"{interval_s}: one of {BAR_INTERVALS_S} seconds")
    if kind is Kind.EVENTS and policy is Policy.CONFLATE:
        raise BadSubscription("policy", "events cannot be conflated: drop_with_gap or disconnect")
    if isinstance(start, FromTime) and start.ns < 0:
        raise BadSubscription("start.time_ns", f"{start.ns} is before 1970")
    return Subscription(
        kind,
        frozenset(venues),
        SymbolPatterns.parse(symbols),
        start,
        policy or DEFAULT_POLICY[kind],
        levels,
        conflate_ms * 1_000_000,
        interval_s,
    )


def parse_position(token: str, field: str = "start.position") -> Position:
    try:
        return Position.from_token(token)
    except BadPosition as exc:
        raise BadSubscription(field, str(exc)) from exc


def check_position(
    position: Position, ends: Mapping[Stream, int], firsts: Mapping[Stream, int]
) -> None:
    """A position to resume from must lie within what the log holds: not beyond a stream's
    durable end, not before the first seq retention kept (that data is gone)."""
    for stream, seq in position.seqs:
        end = ends.get(stream, 0)
        if seq > end:
            raise BadSubscription(
                "start.position",
                f"{stream} at {seq} is beyond the log (it ends at {end})",
                out_of_range=True,
            )
        first = firsts.get(stream, 0)
        if seq < first:
            raise BadSubscription(
                "start.position",
                f"{stream} at {seq} is before retention (the log keeps {first} on): "
                "subscribe from a time instead",
                out_of_range=True,
            )
