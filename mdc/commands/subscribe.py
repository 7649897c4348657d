"""`mdc subscribe`: print a running collector's live stream (gRPC), one event a line."""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import IO

from mdc.timefmt import format_rfc3339_ns


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "subscribe",
        help="print live trades, quotes, depth, bars or all events from a running collector (gRPC)",
        description=(
            "Subscribe to a running collector's gRPC market data (mdc.v1.MarketDataService) and "
            "print what it streams: by default JSON lines in `mdc normalize`'s shape plus "
            "`position`, a token to resume from (--from TOKEN) with nothing missed or repeated. "
            "Reconnects by itself and resumes where it stopped. The API key comes from "
            "$MDC_API_KEY, else $MDC_DATA_DIR/api-key (the key `mdc run` made)."
        ),
    )
    parser.add_argument(
        "--types",
        default="trades",
        metavar="LIST",
        help="comma-separated: trades, quotes, depth, bars, events (default trades)",
    )
    parser.add_argument("--venues", default="", metavar="LIST", help="comma-separated venues")
    parser.add_argument(
        "--symbols", default="", metavar="GLOB", help="comma-separated symbols or globs (BTC-*)"
    )
    parser.add_argument(
        "--from",
        dest="start",
        default="live",
        metavar="T",
        help="live (default), a time (RFC 3339, a date, or ns: stored events from then on, "
        "then live) or a position token from an earlier line",
    )
    parser.add_argument("--format", choices=("json", "table"), default="json")
    parser.add_argument(
        "--target", default="127.0.0.1:50051", metavar="HOST:PORT", help="(default %(default)s)"
    )
    parser.add_argument(
        "--levels", type=int, default=10, metavar="N", help="depth: levels per side (10)"
    )
    parser.add_argument(
        "--conflate-ms",
        type=int,
        default=0,
        metavar="MS",
        help="depth: at most one view per symbol per MS",
    )
    parser.add_argument(
        "--interval",
        type=int,
        default=60,
        metavar="S",
        help="bars: 1, 60 or 3600 seconds (default 60)",
    )
    parser.add_argument(
        "--policy",
        choices=("conflate", "drop_with_gap", "disconnect"),
        help="when this client falls behind (default: disconnect for trades and bars, which "
        "then resume; conflate for quotes and depth)",
    )
    parser.add_argument("--count", type=int, metavar="N", help="stop after N events")
    parser.add_argument("--duration", type=float, metavar="S", help="stop after S seconds")
    parser.add_argument(
        "--max-reconnects",
        type=int,
        metavar="N",
        help="give up after N reconnects in a row (default: never)",
    )
    parser.set_defaults(func=run)


def _csv(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def run(args: argparse.Namespace) -> int:
    from mdc.client import KINDS, start_from_text
    from mdc.store.replay import BadArgument

    kinds = _csv(args.types)
    bad = [k for k in kinds if k not in KINDS]
    if bad or not kinds:
        raise BadArgument(f"--types {args.types!r}: comma-separated, from {', '.join(KINDS)}")
    if args.count is not None and args.count < 1:
        raise BadArgument("--count must be at least 1")
    params = {
        "venues": _csv(args.venues),
        "symbols": _csv(args.symbols),
        "start": start_from_text(args.start),
        "policy": args.policy,
        "levels": args.levels,
        "conflate_ms": args.conflate_ms,
        "interval_s": args.interval,
    }
    return asyncio.run(_print(args, kinds, params, sys.stdout.buffer))


async def _print(args: argparse.Namespace, kinds: list[str], params: dict, out: IO[bytes]) -> int:
    from mdc.client import AsyncMarketDataClient

    left = [args.count]

    async def one(client: AsyncMarketDataClient, kind: str) -> None:
        async for got in client.subscribe(kind, **params):
            out.write(_line(got, args.format))
            out.flush()
            if left[0] is not None:
                left[0] -= 1
                if left[0] == 0:
                    return

    async with AsyncMarketDataClient(args.target, max_reconnects=args.max_reconnects) as client:
        tasks = [asyncio.create_task(one(client, kind)) for kind in kinds]
        try:
            done, _ = await asyncio.wait(
                tasks,
                timeout=args.duration,
                return_when=asyncio.FIRST_COMPLETED,
            )
            for task in done:
                task.result()  # a refusal (bad key, bad request) is raised here
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
    return 0


def _line(got, fmt: str) -> bytes:
    from mdc.distribution.encode import to_json_line

    if fmt == "json":
        return to_json_line(got.event, got.position) + b"\n"
    return table_row(got.event).encode() + b"\n"


def table_row(event) -> str:
    """One line of at most 80 columns: time, venue, symbol, type, what happened."""
    kind = event.__struct_config__.tag
    when = format_rfc3339_ns(event.ts_recv)[11:23]
    head = f"{when} {event.venue:<8.8} {event.symbol:<10.10} {kind:<6.6}"
    match kind:
        case "trade":
            body = f"{event.side:<4} {event.size} @ {event.price}"
        case "quote":
            body = f"{event.bid_size} @ {event.bid_price} / {event.ask_price} @ {event.ask_size}"
        case "depth":
            bid = event.bids[0][0] if event.bids else "-"
            ask = event.asks[0][0] if event.asks else "-"
            state = "" if event.in_sync else " NOT IN SYNC"
            body = f"{bid} / {ask} {len(event.bids)}x{len(event.asks)}{state}"
        case "bar":
            body = f"O {event.open} H {event.high} L {event.low} C {event.close} V {event.volume}"
        case _:
            body = str(getattr(event, "reason", ""))
    return f"{head} {body}"[:80]
