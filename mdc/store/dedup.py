"""Bounded duplicate detection per stream, the same before and after a restart.

Guarantee: an event is not stored again if its identity equals that of one of the last `window`
records of its stream (durable, or earlier in the same uncommitted group). The window is rebuilt on
open from the tail of the stream's log, so the guarantee does not depend on restarts.

Only durable records are remembered: a WAL append first asks which keys are `fresh`, encodes those
events, and only then `hold`s the keys of what it encoded; held keys join the window at `commit`
and are dropped by `rollback`. So an event refused at encoding, or a batch whose commit failed,
never makes its resend look like a duplicate.

The window keeps two generations, aligned on record positions: with G = end // window * window it
remembers exactly the records at positions [G - window, end), that is between `window` and
`2 * window - 1` of them, decided by position alone so a reopened store remembers the same set.
Older duplicates are stored again (a duplicate can be removed later; a wrongly dropped event - a
late backfilled trade, say - could not be recovered), and readers may still collapse them.

Keys: `identity_keys` maps each event to a key that is equal for two events of one stream exactly
when their `identity()` is (venue and symbol are the stream's, so keys leave them out):

| event                                   | key                                   |
|-----------------------------------------|---------------------------------------|
| Trade with trade_id, no exchange/agg    | trade_id (int)                        |
| Trade with trade_id and exchange or agg | ("agg" or exchange, trade_id)         |
| BookDelta with last_update_id           | (first_update_id, last_update_id)     |
| BookSnapshot, Quote with update_id      | update_id (int)                       |
| anything else                           | `digest(identity(event))` (int)       |

Within one stream at most one event type yields bare ints from ids, so two different natural keys
never meet; a digest equals another key by mistake with probability about window / 2**64.
"""

from __future__ import annotations

import bisect
import hashlib
from collections.abc import Callable, Hashable, Sequence
from operator import attrgetter

from mdc.events import BookDelta, BookSnapshot, Event, Quote, Trade, identity

Key = Hashable

_TRADE_ID = attrgetter("trade_id")
_AGGREGATE = attrgetter("aggregate")
_EXCHANGE = attrgetter("exchange")
_UPDATE_ID = attrgetter("update_id")
_DELTA_IDS = attrgetter("first_update_id", "last_update_id")
_LAST_UPDATE_ID = attrgetter("last_update_id")


def digest(identity: bytes) -> int:
    """64-bit hash of an identity, the same in every process: producers compute the keys of the
    batches they encode (see `encoded.py`), the writer those of the tail it reloads on open."""
    return int.from_bytes(hashlib.blake2b(identity, digest_size=8).digest())


def event_key(event: Event) -> Key:
    """The dedup key of one event (see the table in the module docstring)."""
    match event:
        case Trade(trade_id=int() as trade_id):
            space = "agg" if event.aggregate else event.exchange
            return (space, trade_id) if space else trade_id
        case BookDelta(last_update_id=int()):
            return _DELTA_IDS(event)
        case BookSnapshot(update_id=int() as update_id) | Quote(update_id=int() as update_id):
            return update_id
    return digest(identity(event))


def _trade_keys(events: Sequence[Event]) -> list[Key] | None:
    ids = list(map(_TRADE_ID, events))
    if None in ids or any(map(_AGGREGATE, events)) or any(map(_EXCHANGE, events)):
        return None
    return ids


def _update_id_keys(events: Sequence[Event]) -> list[Key] | None:
    ids = list(map(_UPDATE_ID, events))
    return None if None in ids else ids


def _delta_keys(events: Sequence[Event]) -> list[Key] | None:
    if None in map(_LAST_UPDATE_ID, events):
        return None
    return list(map(_DELTA_IDS, events))


_BATCH_KEYS: dict[type, Callable[[Sequence[Event]], list[Key] | None]] = {
    Trade: _trade_keys,
    BookSnapshot: _update_id_keys,
    Quote: _update_id_keys,
    BookDelta: _delta_keys,
}


def identity_keys(events: Sequence[Event], kind: type | None = None) -> list[Key]:
    """`[event_key(e) for e in events]`; `kind` says every event is of that exact type, which
    lets the common case (ids present) run as C-level maps instead of a Python loop."""
    batch = _BATCH_KEYS.get(kind) if kind is not None else None
    keys = batch(events) if batch is not None else None
    return keys if keys is not None else list(map(event_key, events))


class DedupWindow:
    """Keys of the durable records at positions [G - size, end), plus the held keys of encoded
    records awaiting their commit (kept apart, so a rollback just forgets them)."""

    __slots__ = ("_current", "_end", "_held", "_pending", "_previous", "size")

    def __init__(self, size: int, end: int = 0) -> None:
        if size < 1:
            raise ValueError(f"dedup window must hold at least one record, not {size}")
        self.size = size
        self._end = end
        self._current: set[Key] = set()
        self._previous: set[Key] = set()
        self._held: set[Key] = set()
        self._pending: list[Key] = []

    @property
    def start(self) -> int:
        """Position of the oldest record the window remembers (where a rebuild reads from)."""
        return max(0, self._end - self._end % self.size - self.size)

    def load(self, seqs: Sequence[int], keys: Sequence[Key]) -> None:
        """Remember the keys of the durable records at positions `seqs` (ascending, < end)."""
        split = bisect.bisect_left(seqs, self._end - self._end % self.size)
        self._previous = set(keys[:split])
        self._current = set(keys[split:])

    def fresh(self, keys: Sequence[Key]) -> list[int] | None:
        """Indexes of the keys neither remembered nor held (a repeat within `keys` counts as
        seen); None if all are fresh (the common case). Changes nothing: see `hold`."""
        current, previous, held = self._current, self._previous, self._held
        batch = set(keys)
        if (
            len(batch) == len(keys)
            and current.isdisjoint(batch)
            and previous.isdisjoint(batch)
            and held.isdisjoint(batch)
        ):
            return None
        seen: set[Key] = set()
        fresh = []
        for i, key in enumerate(keys):
            if key not in seen and key not in current and key not in previous and key not in held:
                seen.add(key)
                fresh.append(i)
        return fresh

    def hold(self, keys: Sequence[Key]) -> None:
        """Keys (fresh ones) of records that are encoded and pending: durable at `commit`."""
        self._pending += keys
        self._held.update(keys)

    def commit(self) -> None:
        """The held keys became durable records at positions end, end + 1, ..."""
        keys, self._pending = self._pending, []
        held, self._held = self._held, set()
        start, size = self._end, self.size
        self._end += len(keys)
        boundary = self._end - self._end % size
        if boundary <= start:
            self._current |= held
            return
        cut = boundary - start
        if cut >= size:
            self._previous = set(keys[cut - size : cut])
        else:
            self._previous = self._current.union(keys[:cut])
        self._current = set(keys[cut:])

    def rollback(self) -> None:
        """The held keys' commit failed: they were never durable, so forget them."""
        self._pending = []
        self._held = set()
