"""Batches encoded where they are produced, in the WAL's own format.

A producer sends its batch to the writer in another process anyway, so it serializes every event
once; encoding them straight into the WAL's payloads (one msgpack array per stream, exactly what
`records.encode_frames` would frame) plus their dedup keys lets the writer route, deduplicate and
write bytes without decoding or re-encoding an event, and lets Ray ship a few byte strings instead
of pickled events. The writer decodes a batch only on the rare paths that need events (a part
whose events are partly duplicates, a batch that goes to the dead letter queue).

The keys are computed in the producer's process, so they must not depend on it: `dedup.digest`
is an unkeyed blake2b, not Python's per-process salted `hash`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from operator import attrgetter

from mdc.events import Event, Gap
from mdc.store import records
from mdc.store.dedup import Key, identity_keys
from mdc.store.streams import Stream, stream_of

_VENUE = attrgetter("venue")
_SYMBOL = attrgetter("symbol")


@dataclass(frozen=True, slots=True)
class StreamPart:
    """One stream's events of a batch, in order: a WAL record's payload and the events' keys."""

    stream: Stream
    payload: bytes
    keys: list[Key]


@dataclass(frozen=True, slots=True)
class EncodedBatch:
    parts: tuple[StreamPart, ...]
    size: int
    """Events in the batch."""
    symbols: int
    venue: str | None

    def decode(self) -> list[Event]:
        """The events again, stream by stream (each stream in its original order)."""
        decode = records.PAYLOAD_DECODER.decode
        return [event for part in self.parts for event in decode(part.payload)]


def encode_batch(events: list[Event]) -> EncodedBatch:
    """Raises one of `records.UNENCODABLE` if an event cannot be encoded (send the events
    instead: the WAL then refuses that event alone)."""
    groups = split_by_stream(events)
    parts = tuple(part for stream, group, kind in groups for part in _parts(stream, group, kind))
    symbols = len(set(map(_SYMBOL, events)))
    return EncodedBatch(parts, len(events), symbols, events[0].venue if events else None)


def split_by_stream(
    events: list[Event], route: Callable[[Event], Stream] = stream_of
) -> list[tuple[Stream, list[Event], type | None]]:
    """The batch split by stream (`route` says an event's, `stream_of` or a cached form of it),
    in order, with the events' type where a group has one. A batch of one type, venue and symbol
    (the usual case) is recognised with C-level maps."""
    if not events:
        return []
    first = events[0]
    if (
        not isinstance(first, Gap)
        and len(set(map(type, events))) == 1
        and len(set(map(_VENUE, events))) == 1
        and len(set(map(_SYMBOL, events))) == 1
    ):
        return [(route(first), events, type(first))]
    groups: dict[Stream, list[Event]] = {}
    known: dict[tuple[type, str, str], Stream] = {}  # an event's stream, but a Gap's, is this key's
    for event in events:
        kind = type(event)
        if kind is Gap:
            stream = route(event)
        else:
            key = (kind, event.venue, event.symbol)
            stream = known.get(key) or known.setdefault(key, route(event))
        groups.setdefault(stream, []).append(event)
    return [(stream, group, None) for stream, group in groups.items()]


def _parts(stream: Stream, events: list[Event], kind: type | None) -> list[StreamPart]:
    """One part, or several if its payload would exceed a WAL record's limit (split in halves,
    as `records.encode_frames` splits)."""
    payload = records.encode_payload(events)
    if len(payload) > records.MAX_RECORD_BYTES and len(events) > 1:
        half = len(events) // 2
        return _parts(stream, events[:half], kind) + _parts(stream, events[half:], kind)
    return [StreamPart(stream, payload, identity_keys(events, kind))]
