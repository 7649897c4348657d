"""`mdc book`: the order book of one symbol at an instant (nearest checkpoint + replay)."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from mdc.store.cliargs import add_data_dir, open_readonly
from mdc.timefmt import format_rfc3339_ns

if TYPE_CHECKING:
    from mdc.store.checkpoints import BookAt


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "book",
        help="print the order book at an instant",
        description=(
            "Print the L2 book of VENUE/SYMBOL as it was at TIME (receive time): the nearest "
            "stored checkpoint at or before TIME, then the stored book events after it, through "
            "the venue's book sync logic. TIME: RFC 3339, a date (UTC midnight) or integer ns."
        ),
    )
    add_data_dir(parser)
    parser.add_argument("--venue", required=True)
    parser.add_argument("--symbol", required=True)
    parser.add_argument("--at", required=True, metavar="TIME")
    parser.add_argument("--depth", type=int, default=10, help="levels per side (default 10)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from mdc.store.errors import StoreEmpty
    from mdc.store.replay import BadArgument, parse_time
    from mdc.store.streams import Stream

    at_ns = parse_time(args.at)
    if args.depth < 1:
        raise BadArgument(f"bad depth {args.depth}: use a positive number of levels")
    with open_readonly(args) as store:
        if Stream(args.venue, "book", args.symbol) not in store.wal.positions():
            raise StoreEmpty(f"no book events stored for {args.venue} {args.symbol}")
        book = store.book_at(args.venue, args.symbol, at_ns, depth=args.depth)
    sys.stdout.write(render(args.venue, args.symbol, at_ns, book))
    return 0


def render(venue: str, symbol: str, at_ns: int, book: BookAt) -> str:
    state = "in sync" if book.in_sync else "NOT IN SYNC (no valid book at this instant)"
    lines = [
        f"{venue} {symbol} at {format_rfc3339_ns(at_ns)}: {state}",
        f"{'bid size':>20} {'bid':>16} | {'ask':<16} {'ask size':<20}",
    ]
    for i in range(max(len(book.bids), len(book.asks))):
        bid = book.bids[i] if i < len(book.bids) else ("", "")
        ask = book.asks[i] if i < len(book.asks) else ("", "")
        lines.append(f"{bid[1]!s:>20} {bid[0]!s:>16} | {ask[0]!s:<16} {ask[1]!s:<20}".rstrip())
    return "\n".join(lines) + "\n"
