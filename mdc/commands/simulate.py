"""`mdc simulate`: run the embedded exchange simulator until Ctrl-C or --duration."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
from typing import Any

from mdc.simulator.config import VENUES, SimulatorConfig
from mdc.simulator.model import SimulatorConfigError


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "simulate",
        help="run the offline exchange simulator (Binance, Coinbase, Kraken, Alpaca wire formats)",
        description=(
            "Serve a seeded simulated market in each venue's real websocket + REST format, one "
            "port per venue on --host. Prints each venue's websocket and REST base URL, then runs "
            "until Ctrl-C or --duration seconds. Control endpoints on every venue port: "
            "POST /_sim/faults, GET /_sim/connections, GET /_sim/truth/trades?symbol=S, "
            "GET /_sim/truth/book?symbol=S&update_id=N (or &ts=NS)."
        ),
    )
    parser.add_argument(
        "--venues",
        default=",".join(VENUES),
        help=f"comma-separated venues to serve (default: {','.join(VENUES)})",
    )
    parser.add_argument("--seed", type=int, default=1, help="random seed (default: 1)")
    parser.add_argument(
        "--rate",
        type=float,
        default=50.0,
        help="model events per second per symbol, at most 500 (default: 50)",
    )
    parser.add_argument("--host", default="127.0.0.1", help="listen address (default: 127.0.0.1)")
    parser.add_argument(
        "--port-base",
        type=int,
        default=0,
        help="venue i listens on PORT_BASE+i; 0 picks free ports (default: 0)",
    )
    parser.add_argument(
        "--duration",
        type=float,
        default=None,
        help="stop after this many seconds (default: run until Ctrl-C)",
    )
    parser.set_defaults(func=run)


def build_config(args: argparse.Namespace) -> SimulatorConfig:
    venues = tuple(v.strip() for v in args.venues.split(",") if v.strip())
    if args.duration is not None and args.duration <= 0:
        raise SimulatorConfigError("--duration must be > 0")
    return SimulatorConfig(
        venues=venues, seed=args.seed, rate=args.rate, host=args.host, port_base=args.port_base
    )


async def _serve(config: SimulatorConfig, duration: float | None) -> None:
    from mdc.simulator.server import Simulator  # aiohttp: only when the command runs

    async with Simulator(config) as sim:
        for venue, urls in sim.urls.items():
            print(f"{venue:9s} ws {urls.ws}  rest {urls.http}", flush=True)
        if duration is None:
            await asyncio.Event().wait()
        else:
            await asyncio.sleep(duration)


def run(args: argparse.Namespace) -> int:
    config = build_config(args)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(config, args.duration))
    return 0
