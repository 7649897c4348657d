"""`mdc ingest`: append a recording of raw venue messages durably into the event store."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable, Iterator

import msgspec

from mdc.errors import CollectorError, MalformedMessage
from mdc.events import Event
from mdc.store.cliargs import add_data_dir, default_data_dir

BATCH = 10_000


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "ingest",
        help="import a recording of raw venue messages into the store",
        description=(
            "Parse raw venue messages (one JSON message per line, the `mdc normalize` input) from "
            "FILE or stdin and append the events durably to the store. Importing the same file "
            "again stores nothing twice (dedup by event identity). A recording has no receive "
            "times, so ts_recv is set to the venue's ts_event. Malformed lines are reported with "
            "their line number and skipped (exit status 1)."
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
    with _open_input(args.file) as source, Store.open(args.data_dir or default_data_dir()) as store:
        for batch in _batches(_parse(venue, source, bad, where)):
            result = store.append(batch)
            stored, duplicates = stored + result.stored, duplicates + result.duplicates
        store.refresh()
    print(
        f"{where}: stored {stored} event(s), {duplicates} duplicate(s) skipped"
        + (f", {len(bad)} malformed line(s) skipped" if bad else ""),
        file=sys.stderr,
    )
    return 1 if bad else 0


def _parse(venue, lines: Iterable[bytes], bad: list[int], where: str) -> Iterator[Event]:
    for line_no, line in enumerate(lines, start=1):
        raw = line.strip()
        if not raw:
            continue
        try:
            events = venue.parse(raw, 0)
        except MalformedMessage as exc:
            bad.append(line_no)
            print(f"{where}:{line_no}: malformed message: {exc.reason}", file=sys.stderr)
            continue
        for event in events:
            yield (
                msgspec.structs.replace(event, ts_recv=event.ts_event)
                if not event.ts_recv
                else event
            )


def _batches(events: Iterable[Event]) -> Iterator[list[Event]]:
    batch: list[Event] = []
    for event in events:
        batch.append(event)
        if len(batch) >= BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def _open_input(path: str | None):
    if path is None or path == "-":
        return open(sys.stdin.fileno(), "rb", closefd=False)
    try:
        return open(path, "rb")
    except OSError as exc:
        raise CollectorError(f"cannot read {path}: {exc.strerror}") from exc
