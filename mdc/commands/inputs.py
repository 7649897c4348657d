"""The recording input of `mdc normalize` and `mdc ingest`: FILE or stdin, the one time that
stands in for missing receive times, and what became of each line, reported the same way by both
commands: a refused line, or a part of one not passed on, is a stderr line with its number."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import BinaryIO

from mdc.errors import CollectorError, MalformedMessage
from mdc.events import Event
from mdc.recording import MAX_LINE_BYTES, BadLine, RecordedLine, Recording
from mdc.timefmt import format_rfc3339_ns

FALLBACK_HELP = (
    "Each line is a JSON message, optionally prefixed by its receive time as recorders write it: "
    "`<Unix seconds>: <message>`; that time becomes ts_recv, and ts_event where the message has "
    "no time of its own. A line without the prefix gets its venue time as ts_recv; a message "
    "with no time at all gets the input's modification time for both (from a pipe: about the "
    "time of the run), noted once on stderr."
)

Reader = Callable[[bytes, int], tuple[list[Event], list[str]]]
"""One message and its receive time -> its events, and why parts of it were not passed on."""


@dataclass(frozen=True, slots=True)
class LineResult:
    """One input line's events, or why it was refused (`error`); and what of it was dropped."""

    number: int
    events: list[Event]
    error: str | None = None
    dropped: tuple[str, ...] | list[str] = ()


def add_input_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", nargs="?", metavar="FILE", help="input file (default: stdin)")
    parser.add_argument(
        "--max-line-bytes",
        type=_positive_int,
        default=MAX_LINE_BYTES,
        metavar="N",
        help=f"longest line read (default {MAX_LINE_BYTES}); a longer one is reported with its "
        "number and skipped without being held in memory",
    )


def _positive_int(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive number of bytes, not {text}")
    return value


def open_input(path: str | None) -> BinaryIO:
    if path is None or path == "-":
        return open(sys.stdin.fileno(), "rb", closefd=False)
    try:
        return open(path, "rb")
    except OSError as exc:
        raise CollectorError(f"cannot read {path}: {exc.strerror}") from exc


def recording_of(source: BinaryIO, max_line_bytes: int = MAX_LINE_BYTES) -> Recording:
    """The input's modification time is the latest any of its messages can have been received,
    and the same on every import of one file, so importing it again stores nothing twice."""
    return Recording(os.fstat(source.fileno()).st_mtime_ns, max_line_bytes)


def results(lines: Iterable[RecordedLine | BadLine], read: Reader) -> Iterator[LineResult]:
    """Each line through `read`; a refused line (too long, malformed) comes back as its error."""
    for line in lines:
        if isinstance(line, BadLine):
            yield LineResult(line.number, [], line.reason)
            continue
        try:
            events, dropped = read(line.message, line.ts_recv)
        except MalformedMessage as exc:
            yield LineResult(line.number, [], f"malformed message: {exc.reason}")
            continue
        except CollectorError as exc:  # the session refused it (a phase it cannot be in)
            yield LineResult(line.number, [], str(exc))
            continue
        yield LineResult(line.number, line.stamp(events), None, dropped)


def report(result: LineResult, where: str) -> None:
    """The line's refusal, and each part of it dropped, on stderr with the line's number."""
    if result.error is not None:
        print(f"{where}:{result.number}: {result.error}", file=sys.stderr)
    for reason in result.dropped:
        print(f"{where}:{result.number}: dropped: {reason}", file=sys.stderr)


def note_bare_lines(recording: Recording, where: str) -> None:
    if recording.bare:
        print(
            f"{where}: {recording.bare} line(s) without a `<Unix seconds>: ` receive-time prefix: "
            "ts_recv is the venue's event time; messages without one got the input's "
            f"modification time {format_rfc3339_ns(recording.fallback_ns)} for both",
            file=sys.stderr,
        )
