"""`mdc verify`: check a store recorded from the simulator against its ground truth."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from mdc.errors import CollectorError
from mdc.store.cliargs import add_data_dir, default_data_dir

STOP_MARGIN_NS = 2_000_000_000
"""Trades published in the last moments before the collector stopped may not have reached it."""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "verify",
        help="check the store against the simulator's ground truth",
        description=(
            "When `mdc run` collects from the embedded simulator it writes the simulator's "
            "ground truth to DATA_DIR/truth/. This checks the store against it: every trade "
            "published while the collector was subscribed is stored exactly once with its "
            "exact values; every book state the store reconstructs while in sync (replaying "
            "each stream in stored order, as `mdc book --at` does) equals the venue's book; "
            "that replay loses a book only where a gap was recorded; and `mdc book --at` at 20 "
            "instants per book answers in sync with the venue's book, or not in sync only after "
            "a recorded gap. Prints a report; exits 1 on any violation, 2 if the data or truth "
            "is missing."
        ),
    )
    add_data_dir(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from mdc.store import Store
    from mdc.verify import load_truth, verify_store

    data_dir = args.data_dir or default_data_dir()
    truth_dir = Path(data_dir) / "truth"
    paths = sorted(truth_dir.glob("*.jsonl"))
    if not paths:
        raise CollectorError(
            f"no ground truth in {truth_dir}: verify needs a store written by "
            "`mdc run` on the embedded simulator"
        )
    meta = truth_dir / "run.json"
    end_ns = json.loads(meta.read_text())["stopped_ns"] - STOP_MARGIN_NS if meta.exists() else None
    truth = load_truth(paths)
    with Store.open(data_dir, readonly=True) as store:
        report = verify_store(store, truth, end_ns)
    for line in report.lines():
        print(line)
    if not report.ok:
        print("mdc verify: the store violates the guarantees above", file=sys.stderr)
    return 0 if report.ok else 1
