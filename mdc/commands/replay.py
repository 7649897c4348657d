"""`mdc replay`: stream stored events in receive-time order as JSON lines, at any speed."""

from __future__ import annotations

import argparse
import sys
import time

from mdc.events import TYPE_NAMES
from mdc.store.cliargs import add_data_dir, open_readonly
from mdc.store.replay import BadArgument, JsonLinesConsumer, parse_speed, parse_time, replay


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "replay",
        help="stream stored events (JSON lines) between two instants",
        description=(
            "Write the stored events with T1 <= ts_recv < T2 to stdout as JSON lines, merged "
            "across streams in receive-time order. --speed 1 replays in real time, 10 ten times "
            "faster, max (default) without pauses. TIME: RFC 3339, a date or integer ns."
        ),
    )
    add_data_dir(parser)
    parser.add_argument("--from", dest="start", required=True, metavar="T1")
    parser.add_argument("--to", dest="end", required=True, metavar="T2")
    parser.add_argument("--speed", default="max", metavar="X|max")
    parser.add_argument("--venue")
    parser.add_argument("--symbol")
    parser.add_argument(
        "--type",
        dest="types",
        action="append",
        choices=sorted(TYPE_NAMES.values()),
        metavar="TYPE",
        help=f"only this event type ({', '.join(sorted(TYPE_NAMES.values()))}); repeatable",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:

    start, end = parse_time(args.start), parse_time(args.end)
    if end <= start:
        raise BadArgument(f"--to ({args.end}) must be after --from ({args.start})")
    speed = parse_speed(args.speed)
    out = sys.stdout.buffer
    with open_readonly(args) as store:
        events = store.iter_events(start, end, args.venue, args.symbol, args.types)
        replay(
            events,
            JsonLinesConsumer(out),
            speed=speed,
            clock_ns=time.monotonic_ns,
            sleep=time.sleep,
        )
    out.flush()
    return 0
