"""The recording input of `mdc normalize` and `mdc ingest`: FILE or stdin, and the one time that
stands in for missing receive times."""

from __future__ import annotations

import os
import sys
from typing import BinaryIO

from mdc.errors import CollectorError
from mdc.recording import Recording
from mdc.timefmt import format_rfc3339_ns

FALLBACK_HELP = (
    "Each line is a JSON message, optionally prefixed by its receive time as recorders write it: "
    "`<Unix seconds>: <message>`; that time becomes ts_recv, and ts_event where the message has "
    "no time of its own. A line without the prefix gets its venue time as ts_recv; a message "
    "with no time at all gets the input's modification time for both (from a pipe: about the "
    "time of the run), noted once on stderr."
)


def open_input(path: str | None) -> BinaryIO:
    if path is None or path == "-":
        return open(sys.stdin.fileno(), "rb", closefd=False)
    try:
        return open(path, "rb")
    except OSError as exc:
        raise CollectorError(f"cannot read {path}: {exc.strerror}") from exc


def recording_of(source: BinaryIO) -> Recording:
    """The input's modification time is the latest any of its messages can have been received,
    and the same on every import of one file, so importing it again stores nothing twice."""
    return Recording(fallback_ns=os.fstat(source.fileno()).st_mtime_ns)


def note_bare_lines(recording: Recording, where: str) -> None:
    if recording.bare:
        print(
            f"{where}: {recording.bare} line(s) without a `<Unix seconds>: ` receive-time prefix: "
            "ts_recv is the venue's event time; messages without one got the input's "
            f"modification time {format_rfc3339_ns(recording.fallback_ns)} for both",
            file=sys.stderr,
        )
