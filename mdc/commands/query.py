"""`mdc query`: SQL (DuckDB) over the stored trades, quotes, book_deltas and bars."""

from __future__ import annotations

import argparse
import sys

from mdc.store.cliargs import add_data_dir


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "query",
        help="run SQL over the event store",
        description=(
            "Run one DuckDB SQL statement over the views trades, quotes, book_deltas (one row per "
            "level), bars (1 s/1 min/1 h from trades, plus venue bars) and venue_bars. Results "
            "include events still in the write-ahead log. Decimals are printed exactly. Queries "
            "are read-only and reach no file but the store's own: one SELECT (or DESCRIBE, SHOW, "
            "SUMMARIZE) per call; COPY ... TO only with --allow-export."
        ),
    )
    add_data_dir(parser)
    parser.add_argument("--format", choices=("table", "csv", "json"), default="table")
    parser.add_argument(
        "--allow-export",
        metavar="DIR",
        help="also allow one COPY ... TO a file under DIR (an existing directory outside the "
        "data directory); the store's Parquet is then read more slowly, through Arrow",
    )
    parser.add_argument("sql", metavar="SQL")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from mdc.store.cliargs import open_readonly
    from mdc.store.query import format_result

    with open_readonly(args) as store:
        result = store.query(args.sql, args.allow_export)
    sys.stdout.write(format_result(result, args.format))
    return 0
