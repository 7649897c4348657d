"""`mdc normalize`: raw venue messages (one per line) in, normalized JSON lines out."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable
from typing import BinaryIO

from mdc.commands.inputs import (
    FALLBACK_HELP,
    LineResult,
    add_input_arguments,
    note_bare_lines,
    open_input,
    recording_of,
    report,
    results,
)
from mdc.events import Event, to_json
from mdc.venues.base import Session, SessionConfig
from mdc.venues.registry import get_venue, venue_names

OFFLINE = "offline-normalize"


class Normalizer:
    """Feeds messages through the venue's session, so sequence gaps and checksum failures show
    up as `gap` events, and parts the session does not pass on are named."""

    def __init__(self, venue_name: str) -> None:
        # The symbols are unknown up front; any placeholder satisfies the session, which tracks
        # whatever symbols the messages name. Likewise the credentials: nothing is ever sent
        # (the outbox is discarded), but venues that authenticate build their auth frame.
        offline = SessionConfig(symbols=("*",), key=OFFLINE, secret=OFFLINE)
        self.session = Session(get_venue(venue_name), offline)
        self.session.connected(0)
        self.session.outbox()

    def read(self, message: bytes, ts_recv: int) -> tuple[list[Event], list[str]]:
        """A `Reader` (mdc.commands.inputs): the message's events, and what was dropped."""
        events = self.session.receive(message, ts_recv)
        self.session.outbox()
        return events, self.session.take_drops() if self.session.drops else []


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "normalize",
        help="turn raw venue messages (JSON lines) into normalized events (JSON lines)",
        description=(
            "Read raw venue websocket messages, one per line, from FILE or stdin, and write "
            "normalized events as JSON lines to stdout: decimals as strings, times as int ns, a "
            "`type` field (trade|quote|book_snapshot|book_delta|bar|gap|status). Sequence gaps and "
            "checksum failures between lines are reported as `gap` events. A malformed line (or "
            "one with a value the store cannot hold, or a line too long) is reported on stderr "
            "with its line number and skipped; the exit status is 1 if any line was bad (or 2 "
            "with --strict, which stops at the first bad line). A part of a message not passed on "
            "(a repeated trade, a late book update) is reported on stderr too. " + FALLBACK_HELP
        ),
    )
    parser.add_argument("--venue", required=True, help="venue name: " + ", ".join(venue_names()))
    add_input_arguments(parser)
    parser.add_argument("--strict", action="store_true", help="stop at the first malformed line")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    normalizer = Normalizer(args.venue)
    with open_input(args.file) as source:
        recording = recording_of(source, args.max_line_bytes)
        lines = results(recording.lines(source), normalizer.read)
        status = _write(lines, sys.stdout.buffer, strict=args.strict, name=args.file)
    note_bare_lines(recording, args.file or "<stdin>")
    return status


def _write(lines: Iterable[LineResult], out: BinaryIO, *, strict: bool, name: str | None) -> int:
    bad = dropped = 0
    where = name or "<stdin>"
    for line in lines:
        report(line, where)
        dropped += len(line.dropped)
        if line.error is not None:
            bad += 1
            if strict:
                print("stopping at the first bad line (--strict)", file=sys.stderr)
                return 2
            continue
        for event in line.events:
            out.write(to_json(event) + b"\n")
    out.flush()
    if dropped:
        print(f"{dropped} part(s) of messages not passed on (see above)", file=sys.stderr)
    if bad:
        print(f"{bad} malformed line(s) skipped", file=sys.stderr)
    return 1 if bad else 0
