"""`mdc ingest`: append a recording of raw venue messages durably into the event store."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable, Iterator

from mdc.commands.inputs import FALLBACK_HELP, note_bare_lines, open_input, recording_of
from mdc.errors import MalformedMessage
from mdc.events import Event
from mdc.recording import RecordedLine
from mdc.store.cliargs import add_data_dir, default_data_dir

BATCH = 10_000


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "ingest",
        help="import a recording of raw venue messages into the store",
        description=(
            "Parse raw venue messages (one per line, the `mdc normalize` input) from "
            "FILE or stdin and append the events durably to the store. Importing the same file "
            "again stores nothing twice (dedup by event identity). Malformed lines are reported "
            "with their line number and skipped (exit status 1). " + FALLBACK_HELP
        ),
    )
    add_data_dir(parser)
    parser.add_argument("--venue", required=True)
    parser.add_argument("file", nargs="?", metavar="FILE", help="input file (default: stdin)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from mdc.store.store import Store
    from mdc.venues.registry import get_venue

    venue = get_venue(args.venue)
    bad: list[int] = []
    where = args.file or "<stdin>"
    stored = duplicates = 0
    with open_input(args.file) as source, Store.open(args.data_dir or default_data_dir()) as store:
        recording = recording_of(source)
        for batch in _batches(_parse(venue, recording.lines(source), bad, where)):
            result = store.append(batch)
            stored, duplicates = stored + result.stored, duplicates + result.duplicates
        store.refresh()
    note_bare_lines(recording, where)
    print(
        f"{where}: stored {stored} event(s), {duplicates} duplicate(s) skipped"
        + (f", {len(bad)} malformed line(s) skipped" if bad else ""),
        file=sys.stderr,
    )
    return 1 if bad else 0


def _parse(venue, lines: Iterable[RecordedLine], bad: list[int], where: str) -> Iterator[Event]:
    for line in lines:
        try:
            events = venue.parse(line.message, line.ts_recv)
        except MalformedMessage as exc:
            bad.append(line.number)
            print(f"{where}:{line.number}: malformed message: {exc.reason}", file=sys.stderr)
            continue
        yield from line.stamp(events)


def _batches(events: Iterable[Event]) -> Iterator[list[Event]]:
    batch: list[Event] = []
    for event in events:
        batch.append(event)
        if len(batch) >= BATCH:
            yield batch
            batch = []
    if batch:
        yield batch
