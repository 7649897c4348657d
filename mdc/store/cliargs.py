"""Command-line plumbing shared by the store's subcommands (query, book, replay, ingest)."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mdc.store.store import Store


def default_data_dir() -> str:
    return os.environ.get("MDC_DATA_DIR") or "./data"


def add_data_dir(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data-dir",
        default=None,
        metavar="DIR",
        help="event store directory (default: $MDC_DATA_DIR or ./data)",
    )


@contextmanager
def open_readonly(args: argparse.Namespace) -> Iterator[Store]:
    """The store named by --data-dir, read-only (safe while a collector is writing to it); on
    the way out, what its reads found wrong in the log goes to stderr (`warn_problems`)."""
    from mdc.store.store import Store  # noqa: PLC0415 - keeps `mdc --help` fast

    store = Store.open(args.data_dir or default_data_dir(), readonly=True)
    try:
        with store:
            yield store
    finally:
        warn_problems(store, args.command)


def warn_problems(store: Store, command: str) -> None:
    """Damage, missing segments and torn tails met by recovery or reads: results may lack
    records, and the user must hear it (`mdc store check` says more, `repair` mends it)."""
    for line in store.problems():
        print(f"mdc {command}: warning: {line}", file=sys.stderr)
