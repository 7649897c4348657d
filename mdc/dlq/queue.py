"""`DeadLetterQueue`: events and raw messages that could not be stored or parsed, kept durably
under DATA_DIR/dlq/ until a retry or a replay brings them into the store, or a purge drops them.

Every change is a record appended to the journal (fsynced before the call returns), and the
in-memory view changes only after that, so memory never claims more than the disk holds. The
journal is compacted on open and after a purge.

Replay is idempotent because the store deduplicates by event identity: replaying an entry twice
(or an entry whose events partly reached the store before the failure) stores each event once.

Time and randomness are injected (`now_ns` arguments, `rng`); not thread-safe: one caller at a time.
"""

from __future__ import annotations

import os
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import msgspec

from mdc.dlq.errors import CorruptDLQ, DLQFull, InvalidEntry, UnknownEntry
from mdc.dlq.journal import Journal
from mdc.dlq.model import (
    CAUSES,
    Added,
    Changed,
    Counts,
    Entry,
    Filter,
    Record,
    Selection,
    State,
    Watermark,
    count,
    decode_record,
    encode_event,
    encode_record,
)
from mdc.dlq.policy import Limits, RetryPolicy
from mdc.errors import CollectorError, IllegalTransition
from mdc.events import Event
from mdc.store.errors import StorageError
from mdc.store.fs import FileSystem, RealFS
from mdc.venues.base import Venue
from mdc.venues.registry import get_venue

Sink = Callable[[list[Event]], object]
"""Where replayed events go; must be durable on return (e.g. `Store.append`) or raise."""
MAX_ERROR_CHARS = 2000
REPLAYABLE: tuple[State, ...] = ("pending", "parked")


@dataclass(slots=True)
class ReplayReport:
    replayed: list[int] = field(default_factory=list)
    failed: dict[int, str] = field(default_factory=dict)


class DeadLetterQueue:
    def __init__(
        self,
        journal: Journal,
        *,
        policy: RetryPolicy,
        limits: Limits,
        rng: random.Random,
        venues: Callable[[str], Venue],
    ) -> None:
        self.journal = journal
        self.policy = policy
        self.limits = limits
        self.last_compaction_error: StorageError | None = None
        self._rng = rng
        self._venues = venues
        self._entries: dict[int, Entry] = {}
        self._next_id = 1
        self._bytes = 0

    @classmethod
    def open(
        cls,
        data_dir: str,
        fs: FileSystem | None = None,
        *,
        policy: RetryPolicy | None = None,
        limits: Limits | None = None,
        rng: random.Random | None = None,
        venues: Callable[[str], Venue] = get_venue,
    ) -> DeadLetterQueue:
        """Open (creating, recovering and compacting) the DLQ under `data_dir`/dlq."""
        journal, payloads = Journal.open(os.path.join(data_dir, "dlq"), fs or RealFS())
        dlq = cls(
            journal,
            policy=policy or RetryPolicy(),
            limits=limits or Limits(),
            rng=rng or random.Random(),
            venues=venues,
        )
        for payload in payloads:
            dlq._apply(_decoded(payload))
        if len(payloads) > len(dlq._entries) + 1:
            dlq.compact()
        return dlq

    def _apply(self, record: Record) -> None:
        match record:
            case Added(entry=entry):
                self._entries[entry.id] = entry
                self._bytes += entry.payload_bytes
                self._next_id = max(self._next_id, entry.id + 1)
            case Watermark(next_id=next_id):
                self._next_id = max(self._next_id, next_id)
            case Changed(id=entry_id, state="purged") if entry_id in self._entries:
                self._bytes -= self._entries.pop(entry_id).payload_bytes
            case Changed(id=entry_id) if entry_id in self._entries:
                self._entries[entry_id] = record.apply(self._entries[entry_id])

    def _write(self, records: list[Record]) -> None:
        """Durably append, then apply: on StorageError nothing changed."""
        self.journal.append([encode_record(r) for r in records])
        for record in records:
            self._apply(record)

    # -- adding ------------------------------------------------------------------------------

    def add_events(
        self, cause: str, venue: str, events: Sequence[Event], error: str, now_ns: int
    ) -> int:
        if not events:
            raise InvalidEntry("a DLQ entry needs at least one event")
        return self._add(cause, venue, error, now_ns, events=tuple(map(encode_event, events)))

    def add_raw(self, cause: str, venue: str, raw: bytes, error: str, now_ns: int) -> int:
        """Keep a venue message exactly as received (for parse failures)."""
        return self._add(cause, venue, error, now_ns, raw=bytes(raw))

    def _add(self, cause: str, venue: str, error: str, now_ns: int, **payload: object) -> int:
        if cause not in CAUSES:
            raise InvalidEntry(f"unknown DLQ cause {cause!r}; use one of {', '.join(CAUSES)}")
        entry = Entry(
            id=self._next_id,
            cause=cause,  # type: ignore[arg-type]
            venue=venue,
            created_ns=now_ns,
            attempts=0,
            next_attempt_ns=now_ns + self.policy.delay_ns(0, self._rng),
            state="pending",
            error=error[:MAX_ERROR_CHARS],
            updated_ns=now_ns,
            **payload,  # type: ignore[arg-type]
        )
        self._check_room(entry.payload_bytes)
        self._write([Added(entry)])
        return entry.id

    def _check_room(self, size: int) -> None:
        if len(self._entries) + 1 > self.limits.max_entries:
            raise DLQFull(f"DLQ holds {len(self._entries)} entries (max {self.limits.max_entries})")
        if self._bytes + size > self.limits.max_bytes:
            raise DLQFull(
                f"DLQ holds {self._bytes} payload bytes; {size} more would exceed "
                f"max {self.limits.max_bytes}"
            )

    # -- reading -----------------------------------------------------------------------------

    def get(self, entry_id: int) -> Entry:
        entry = self._entries.get(entry_id)
        if entry is None:
            raise UnknownEntry(entry_id)
        return entry

    def list(self, where: Filter | None = None, limit: int | None = None) -> list[Entry]:
        """Matching entries, oldest (lowest id) first, at most `limit`."""
        where = where or Filter()
        found = []
        for entry in self._entries.values():
            if limit is not None and len(found) >= limit:
                break
            if where.matches(entry):
                found.append(entry)
        return found

    def due(self, now_ns: int) -> list[Entry]:
        """Pending entries whose next attempt time has come."""
        return [
            e
            for e in self._entries.values()
            if e.state == "pending" and e.next_attempt_ns <= now_ns
        ]

    def counts(self) -> Counts:
        return count(self._entries.values())

    def select(self, selection: Selection) -> list[Entry]:
        """By filter (no state given: pending and parked), or by ids (all must exist)."""
        if isinstance(selection, Filter):
            states = (selection.state,) if selection.state else REPLAYABLE
            return [e for e in self.list(selection) if e.state in states]
        return [self.get(entry_id) for entry_id in dict.fromkeys(selection)]

    # -- retry, replay, purge ----------------------------------------------------------------

    def mark_retried(self, entry_id: int, ok: bool, error: str, now_ns: int) -> Entry:
        """Record an automatic retry: success -> replayed; failure -> backoff, or parked after
        `policy.max_attempts` attempts."""
        entry = self.get(entry_id)
        if entry.state != "pending":
            raise IllegalTransition(f"DLQ entry {entry_id}", entry.state, "retried")
        attempts = entry.attempts + 1
        if ok:
            change = Changed(entry_id, "replayed", attempts, 0, entry.error, now_ns)
        elif self.policy.parks(attempts):
            change = Changed(entry_id, "parked", attempts, 0, error[:MAX_ERROR_CHARS], now_ns)
        else:
            delay = self.policy.delay_ns(attempts, self._rng)
            change = Changed(
                entry_id, "pending", attempts, now_ns + delay, error[:MAX_ERROR_CHARS], now_ns
            )
        self._write([change])
        return self._entries[entry_id]

    def retry_due(self, sink: Sink, now_ns: int) -> ReplayReport:
        """Try every due entry once through `sink`, recording each outcome with `mark_retried`."""
        report = ReplayReport()
        for entry in self.due(now_ns):
            error = self._deliver(entry, sink)
            self.mark_retried(entry.id, error is None, error or "", now_ns)
            _note(report, entry.id, error)
        return report

    def replay(self, selection: Selection, sink: Sink, now_ns: int) -> ReplayReport:
        """Send the selected entries' events to `sink`; a success marks the entry replayed, a
        failure keeps it (state unchanged) with the new error. Raw entries are parsed again."""
        report = ReplayReport()
        for entry in self.select(selection):
            error = self._deliver(entry, sink)
            if error is None:
                change = Changed(entry.id, "replayed", entry.attempts, 0, entry.error, now_ns)
            else:
                change = Changed(
                    entry.id, entry.state, entry.attempts, entry.next_attempt_ns, error, now_ns
                )
            self._write([change])
            _note(report, entry.id, error)
        return report

    def _deliver(self, entry: Entry, sink: Sink) -> str | None:
        """None on success, else why the entry could not be delivered."""
        try:
            sink(self._events_of(entry))
        except (CollectorError, OSError) as exc:
            return str(exc)[:MAX_ERROR_CHARS]
        return None

    def _events_of(self, entry: Entry) -> list[Event]:
        if entry.raw is None:
            return list(entry.decoded_events())
        return self._venues(entry.venue).parse(entry.raw, entry.created_ns)

    def purge(self, selection: Selection, now_ns: int) -> int:
        """Remove the selected entries (see `purge_selection`) for good."""
        chosen = self.purge_selection(selection)
        if chosen:
            self._write([Changed(e.id, "purged", e.attempts, 0, e.error, now_ns) for e in chosen])
            self.compact()
        return len(chosen)

    def purge_selection(self, selection: Selection) -> list[Entry]:
        """What `purge` would remove: like `select`, but a filter without state selects all."""
        if isinstance(selection, Filter) and selection.state is None:
            return self.list(selection)
        return self.select(selection)

    def compact(self) -> None:
        """Rewrite the journal as the current entries; a failure only delays it (kept in
        `last_compaction_error`): the uncompacted journal is just as valid."""
        records = [Watermark(self._next_id), *(Added(e) for e in self._entries.values())]
        try:
            self.journal.rewrite([encode_record(r) for r in records])
            self.last_compaction_error = None
        except StorageError as exc:
            self.last_compaction_error = exc

    def close(self) -> None:
        self.journal.close()

    def __enter__(self) -> DeadLetterQueue:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _decoded(payload: bytes) -> Record:
    try:
        return decode_record(payload)
    except msgspec.DecodeError as exc:
        raise CorruptDLQ(f"undecodable DLQ record: {exc}") from exc


def _note(report: ReplayReport, entry_id: int, error: str | None) -> None:
    if error is None:
        report.replayed.append(entry_id)
    else:
        report.failed[entry_id] = error
