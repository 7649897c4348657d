"""`mdc normalize`: raw venue messages (one per line) in, normalized JSON lines out."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import BinaryIO

from mdc.commands.inputs import FALLBACK_HELP, note_bare_lines, open_input, recording_of
from mdc.errors import CollectorError, MalformedMessage
from mdc.events import Event, to_json
from mdc.recording import RecordedLine
from mdc.venues.base import Session, SessionConfig
from mdc.venues.registry import get_venue, venue_names


@dataclass
class LineError:
    line_no: int
    reason: str


OFFLINE = "offline-normalize"


class Normalizer:
    """Feeds lines through the venue's session (so sequence gaps and checksum failures show up as
    `gap` events) and yields each line's events; a bad line comes back as a LineError."""

    def __init__(self, venue_name: str) -> None:
        venue = get_venue(venue_name)
        # The symbols are unknown up front; any placeholder satisfies the session, which tracks
        # whatever symbols the messages name. Likewise the credentials: nothing is ever sent
        # (the outbox is discarded), but venues that authenticate build their auth frame.
        offline = SessionConfig(symbols=("*",), key=OFFLINE, secret=OFFLINE)
        self.session = Session(venue, offline)
        self.session.connected(0)
        self.session.outbox()

    def run(self, lines: Iterable[RecordedLine]) -> Iterator[tuple[int, list[Event] | LineError]]:
        for line in lines:
            try:
                events = self.session.receive(line.message, line.ts_recv)
            except MalformedMessage as exc:
                yield line.number, LineError(line.number, exc.reason)
            except CollectorError as exc:
                yield line.number, LineError(line.number, str(exc))
            else:
                yield line.number, line.stamp(events)
            self.session.outbox()


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "normalize",
        help="turn raw venue messages (JSON lines) into normalized events (JSON lines)",
        description=(
            "Read raw venue websocket messages, one per line, from FILE or stdin, and write "
            "normalized events as JSON lines to stdout: decimals as strings, times as int ns, a "
            "`type` field (trade|quote|book_snapshot|book_delta|bar|gap|status). Sequence gaps and "
            "checksum failures between lines are reported as `gap` events. A malformed line is "
            "reported on stderr with its line number and skipped; the exit status is 1 if any line "
            "was bad (or 2 with --strict, which stops at the first bad line). " + FALLBACK_HELP
        ),
    )
    parser.add_argument("--venue", required=True, help="venue name: " + ", ".join(venue_names()))
    parser.add_argument("file", nargs="?", metavar="FILE", help="input file (default: stdin)")
    parser.add_argument("--strict", action="store_true", help="stop at the first malformed line")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    normalizer = Normalizer(args.venue)
    with open_input(args.file) as source:
        recording = recording_of(source)
        lines = recording.lines(source)
        status = _write(
            normalizer.run(lines), sys.stdout.buffer, strict=args.strict, name=args.file
        )
    note_bare_lines(recording, args.file or "<stdin>")
    return status


def _write(
    results: Iterable[tuple[int, list[Event] | LineError]],
    out: BinaryIO,
    *,
    strict: bool,
    name: str | None,
) -> int:
    bad = 0
    where = name or "<stdin>"
    for line_no, result in results:
        if isinstance(result, LineError):
            bad += 1
            print(f"{where}:{line_no}: malformed message: {result.reason}", file=sys.stderr)
            if strict:
                print("stopping at the first bad line (--strict)", file=sys.stderr)
                return 2
            continue
        for event in result:
            out.write(to_json(event) + b"\n")
    out.flush()
    if bad:
        print(f"{bad} malformed line(s) skipped", file=sys.stderr)
    return 1 if bad else 0
