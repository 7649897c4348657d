"""Command-line plumbing shared by the store's subcommands (query, book, replay, ingest)."""

from __future__ import annotations

import argparse
import os
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


def open_readonly(args: argparse.Namespace) -> Store:
    """The store named by --data-dir, read-only (safe while a collector is writing to it)."""
    from mdc.store.store import Store  # noqa: PLC0415 - keeps `mdc --help` fast

    return Store.open(args.data_dir or default_data_dir(), readonly=True)
