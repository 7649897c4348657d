"""What a DLQ entry is, how entries are selected, and the durable log's record types.

Entries and records are msgspec Structs encoded as msgpack; an entry's payload is either the
events that could not be stored (each one `encode_event`) or a venue message's raw bytes, kept
exactly as received, for parse failures.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal, get_args

import msgspec

from mdc.dlq.errors import BadFilter
from mdc.events import AnyEvent, Event, from_json, from_msgpack, to_json, to_msgpack
from mdc.store.records import UNENCODABLE

Cause = Literal["storage_failure", "parse_failure", "backpressure_overflow", "unstorable_event"]
State = Literal["pending", "parked", "replayed", "purged"]
CAUSES: tuple[str, ...] = get_args(Cause)
STATES: tuple[str, ...] = get_args(State)


class Entry(msgspec.Struct, frozen=True):
    """One dead letter; exactly one of `events`/`raw` holds the payload."""

    id: int
    cause: Cause
    venue: str
    created_ns: int
    attempts: int
    next_attempt_ns: int
    state: State
    error: str
    updated_ns: int
    events: tuple[bytes, ...] = ()
    raw: bytes | None = None

    @property
    def kind(self) -> Literal["events", "raw"]:
        return "raw" if self.raw is not None else "events"

    @property
    def payload_bytes(self) -> int:
        return len(self.raw) if self.raw is not None else sum(map(len, self.events))

    def decoded_events(self) -> list[AnyEvent]:
        return [decode_event(item) for item in self.events]

    def raw_text(self) -> tuple[str, Literal["utf-8", "hex"]]:
        """The raw message as text when it is UTF-8, else as hex (for people and JSON)."""
        raw = self.raw or b""
        try:
            return raw.decode("utf-8"), "utf-8"
        except UnicodeDecodeError:
            return raw.hex(), "hex"


def encode_event(event: Event) -> bytes:
    """msgpack, or JSON for an event msgpack cannot hold (an id beyond 64 bits): such an event
    is exactly the kind the store refuses, and a dead letter must keep it intact."""
    try:
        return to_msgpack(event)
    except UNENCODABLE:
        return to_json(event)


def decode_event(item: bytes) -> AnyEvent:
    """JSON begins with `{`, which no msgpack-encoded event does (they begin with a map)."""
    return from_json(item) if item[:1] == b"{" else from_msgpack(item)


class Added(msgspec.Struct, frozen=True, tag="add"):
    entry: Entry


class Changed(msgspec.Struct, frozen=True, tag="chg"):
    """A state change of entry `id`; `purged` removes the entry at the next compaction."""

    id: int
    state: State
    attempts: int
    next_attempt_ns: int
    error: str
    updated_ns: int

    def apply(self, entry: Entry) -> Entry:
        return msgspec.structs.replace(
            entry,
            state=self.state,
            attempts=self.attempts,
            next_attempt_ns=self.next_attempt_ns,
            error=self.error,
            updated_ns=self.updated_ns,
        )


class Watermark(msgspec.Struct, frozen=True, tag="next"):
    """The next id to hand out, written first by compaction so ids never repeat after a purge."""

    next_id: int


Record = Added | Changed | Watermark
_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder(Record)


def encode_record(record: Record) -> bytes:
    return _encoder.encode(record)


def decode_record(payload: bytes) -> Record:
    return _decoder.decode(payload)


def _checked(field: str, value: str | None, allowed: tuple[str, ...]) -> None:
    if value is not None and value not in allowed:
        raise BadFilter(field, f"unknown value {value!r}; use one of {', '.join(allowed)}")


@dataclass(frozen=True, slots=True)
class Filter:
    """Entries matching every given field; `since <= created_ns < until`."""

    cause: str | None = None
    venue: str | None = None
    state: str | None = None
    since: int | None = None
    until: int | None = None

    def __post_init__(self) -> None:
        _checked("cause", self.cause, CAUSES)
        _checked("state", self.state, STATES)
        if self.since is not None and self.until is not None and self.until <= self.since:
            raise BadFilter("until", "must be after since")

    @property
    def empty(self) -> bool:
        return self == Filter()

    def matches(self, entry: Entry) -> bool:
        return (
            (self.cause is None or entry.cause == self.cause)
            and (self.venue is None or entry.venue == self.venue)
            and (self.state is None or entry.state == self.state)
            and (self.since is None or entry.created_ns >= self.since)
            and (self.until is None or entry.created_ns < self.until)
        )


Selection = Filter | Iterable[int]
"""Entries by filter, or by id (an unknown id is an error, not silently skipped)."""


@dataclass(frozen=True, slots=True)
class Counts:
    entries: int
    payload_bytes: int
    by_cause: dict[str, int]
    by_state: dict[str, int]


def count(entries: Iterable[Entry]) -> Counts:
    by_cause = dict.fromkeys(CAUSES, 0)
    by_state = {s: 0 for s in STATES if s != "purged"}
    total = size = 0
    for entry in entries:
        total, size = total + 1, size + entry.payload_bytes
        by_cause[entry.cause] += 1
        by_state[entry.state] += 1
    return Counts(total, size, by_cause, by_state)
