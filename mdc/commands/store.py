"""`mdc store check|repair`: find damage in the event store's log, and mend it."""

from __future__ import annotations

import argparse
import itertools
import os
from collections.abc import Iterator
from operator import attrgetter
from typing import TYPE_CHECKING

from mdc.store.cliargs import add_data_dir, default_data_dir

if TYPE_CHECKING:
    from mdc.store.damage import SegmentReport

CLEAN, DAMAGED = 0, 1


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "store",
        help="check the event store for damage, or repair it",
        description="Check the event store's write-ahead log for damage, or repair it.",
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    check = actions.add_parser(
        "check",
        help="report every stream and segment: records, bytes, damage, missing segments",
        description=(
            "Read every segment of every stream whole and report its records, bytes, damaged "
            "byte ranges (and the records they held), missing segments, and projections that "
            "claim records the log does not hold. Read-only: safe while a collector runs. "
            "Exit status 0 when clean, 1 when damage was found (see `mdc store repair`)."
        ),
    )
    add_data_dir(check)
    check.set_defaults(func=run_check)
    repair = actions.add_parser(
        "repair",
        help="quarantine what cannot be read and rebuild the projections",
        description=(
            "Move damaged bytes aside to DATA_DIR/quarantine/<stream>/<segment>-<offset>.bad, "
            "keep every readable record, mark the records lost as known holes, and rebuild "
            "the projections that held what the log lost (their old files go to "
            "DATA_DIR/quarantine/projections). Needs the store to itself: stop the collector."
        ),
    )
    add_data_dir(repair)
    repair.set_defaults(func=run_repair)


def run_check(args: argparse.Namespace) -> int:
    from mdc.store.store import Store

    with Store.open(args.data_dir or default_data_dir(), readonly=True) as store:
        reports = store.inspect()
        ahead = store.projections_ahead()
    for line in _describe(reports):
        print(line)
    for name, stream, position, end in ahead:
        print(f"{stream}: the {name} projection is at seq {position}, past the log's end {end}")
    damaged = bool(ahead) or any(r.damaged for r in reports)
    print("damage found: run `mdc store repair`" if damaged else "clean")
    return DAMAGED if damaged else CLEAN


def run_repair(args: argparse.Namespace) -> int:
    from mdc.store.store import Store

    with Store.open(args.data_dir or default_data_dir()) as store:
        repaired = store.repair()
        recovered = store.recovery.lines()
        rewound = store.rewound
    for line in [*recovered, *(p for r in repaired for p in r.problems())]:
        print(f"repaired: {line}")
    for report in repaired:
        if report.lacking and report.events:
            hole = report.first + report.events
            last = hole + report.lacking - 1
            print(f"{report.stream}: seqs {hole}-{last} marked as a known hole")
    for stream, seq in rewound:
        print(f"{stream}: projections rebuilt from seq {seq}")
    if not (recovered or repaired or rewound):
        print("nothing to repair")
    return CLEAN


def _describe(reports: list[SegmentReport]) -> Iterator[str]:
    """One line per stream, one per segment under it, and its problems under that."""
    for stream, group in itertools.groupby(reports, key=attrgetter("stream")):
        mine = list(group)
        records, size = sum(r.events for r in mine), sum(r.size for r in mine)
        yield f"{stream}: {len(mine)} segment(s), {records} record(s), {size} byte(s)"
        for report in mine:
            yield _segment_line(report)
            for problem in report.problems():
                yield f"    {problem}"


def _segment_line(report: SegmentReport) -> str:
    last = report.first + report.events + report.lacking - 1
    if report.damaged:
        state = "DAMAGED"
    elif report.lacking:
        state = f"ok, {report.lacking} record(s) lost earlier (a known hole)"
    else:
        state = "ok"
    return (
        f"  {os.path.basename(report.path)}: seqs {report.first}-{last}, "
        f"{report.events} record(s), {report.size} byte(s): {state}"
    )
