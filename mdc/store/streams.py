"""Streams: the unit of a WAL segment series, of ordering, and of projection progress.

A stream is (venue, family, symbol). The family groups the events whose relative order matters:
`book` holds BookSnapshot, BookDelta and book Gaps of one symbol (so replaying one stream in stored
order rebuilds the book), `trades` holds Trades and trade Gaps, `quotes` Quotes and quote Gaps,
`bars` Bars, `status` Status events and connection Gaps (symbol "" for a whole connection).
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass
from typing import NamedTuple
from urllib.parse import quote, unquote

from mdc.events import Bar, BookDelta, BookSnapshot, Event, Gap, Quote, Trade

_NEEDS_QUOTING = re.compile(r"[^A-Za-z0-9_.~-]")
"""What `quote(part, safe="")` would change: anything but letters, digits and `_.~-`."""
FAMILIES = ("book", "trades", "quotes", "bars", "status")
_GAP_FAMILY = {"book": "book", "trades": "trades", "quotes": "quotes", "connection": "status"}


class Stream(NamedTuple):
    venue: str
    family: str
    symbol: str

    @property
    def dirname(self) -> str:
        """`venue+family+symbol`, each part percent-quoted so `+`, `/` and `%` cannot collide
        (the usual names need no quoting: checked at once, as every streamed event asks)."""
        if _NEEDS_QUOTING.search(self.venue + self.family + self.symbol) is None:
            return f"{self.venue}+{self.family}+{self.symbol}"
        return "+".join(quote(part, safe="") for part in self)

    @classmethod
    def from_dirname(cls, name: str) -> Stream:
        venue, family, symbol = (unquote(part) for part in name.split("+"))
        return cls(venue, family, symbol)

    def __str__(self) -> str:
        return f"{self.venue}/{self.family}/{self.symbol}"


@dataclass(frozen=True, slots=True)
class StreamFilter:
    """Which streams a reader wants: each part is None (any) or the values allowed (`streams`:
    the streams themselves). Streams are chosen by name, so what is left out is never read, let
    alone decoded."""

    families: Collection[str] | None = None
    venues: Collection[str] | None = None
    symbols: Collection[str] | None = None
    streams: Collection[Stream] | None = None

    def matches(self, stream: Stream) -> bool:
        return (
            (self.families is None or stream.family in self.families)
            and (self.venues is None or stream.venue in self.venues)
            and (self.symbols is None or stream.symbol in self.symbols)
            and (self.streams is None or stream in self.streams)
        )


EVERY_STREAM = StreamFilter()


def family_of(event: Event) -> str:
    match event:
        case BookSnapshot() | BookDelta():
            return "book"
        case Trade():
            return "trades"
        case Quote():
            return "quotes"
        case Bar():
            return "bars"
        case Gap():
            return _GAP_FAMILY[event.stream]
    return "status"


def stream_of(event: Event) -> Stream:
    return Stream(event.venue, family_of(event), event.symbol)
