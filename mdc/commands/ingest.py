"""`mdc ingest`: append a recording of raw venue messages durably into the event store."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable, Iterator

from mdc.commands.inputs import (
    FALLBACK_HELP,
    LineResult,
    Reader,
    add_input_arguments,
    note_bare_lines,
    open_input,
    recording_of,
    report,
    results,
)
from mdc.events import Event
from mdc.store.cliargs import add_data_dir, default_data_dir, warn_problems
from mdc.venues.base import Dropped, Venue

BATCH = 10_000


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "ingest",
        help="import a recording of raw venue messages into the store",
        description=(
            "Parse raw venue messages (one per line, the `mdc normalize` input) from "
            "FILE or stdin and append the events durably to the store. Importing the same file "
            "again stores nothing twice (dedup by event identity). Malformed lines (also those "
            "with a value the store cannot hold, and lines too long) are reported with their "
            "line number and skipped (exit status 1). " + FALLBACK_HELP
        ),
    )
    add_data_dir(parser)
    parser.add_argument("--venue", required=True)
    add_input_arguments(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from mdc.store.errors import UnstorableEvent
    from mdc.store.store import AppendResult, Store
    from mdc.venues.registry import get_venue

    venue = get_venue(args.venue)
    bad: list[int] = []
    where = args.file or "<stdin>"
    stored = duplicates = refused = 0
    with open_input(args.file) as source, Store.open(args.data_dir or default_data_dir()) as store:
        recording = recording_of(source, args.max_line_bytes)
        lines = results(recording.lines(source), _reader(venue))
        for batch in _batches(_events(lines, bad, where)):
            try:
                result = store.append(batch)
            except UnstorableEvent as exc:  # the rest of the batch was stored
                result = AppendResult(exc.stored, exc.duplicates)
                refused += len(exc.refused)
                for refusal in exc.refused:
                    print(f"{where}: event not stored: {refusal}", file=sys.stderr)
            stored, duplicates = stored + result.stored, duplicates + result.duplicates
        store.refresh()
        warn_problems(store, args.command)
    note_bare_lines(recording, where)
    print(
        f"{where}: stored {stored} event(s), {duplicates} duplicate(s) skipped"
        + (f", {len(bad)} malformed line(s) skipped" if bad else "")
        + (f", {refused} event(s) refused by the store" if refused else ""),
        file=sys.stderr,
    )
    return 1 if bad or refused else 0


def _reader(venue: Venue) -> Reader:
    """Each message's events as the venue reads it (no session: the store drops repeats)."""

    def read(message: bytes, ts_recv: int) -> tuple[list[Event], list[str]]:
        items = venue.read(message, ts_recv)
        events = [item for item in items if isinstance(item, Event)]
        return events, [item.reason for item in items if type(item) is Dropped]

    return read


def _events(lines: Iterable[LineResult], bad: list[int], where: str) -> Iterator[Event]:
    for line in lines:
        report(line, where)
        if line.error is not None:
            bad.append(line.number)
        yield from line.events


def _batches(events: Iterable[Event]) -> Iterator[list[Event]]:
    batch: list[Event] = []
    for event in events:
        batch.append(event)
        if len(batch) >= BATCH:
            yield batch
            batch = []
    if batch:
        yield batch
