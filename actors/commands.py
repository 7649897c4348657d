"""`mdc run`: the collector on the embedded simulator (or configured venues) with a live panel."""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
import time

from mdc.simulator.config import SimulatorConfig
from mdc.venues.base import SessionConfig

DEFAULT_DATA_DIR = "./data"


def register_run(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "run",
        help="run the collector (default: on the embedded exchange simulator)",
        description=(
            "Start the embedded exchange simulator on 127.0.0.1 and collect every venue's trades, "
            "quotes and books into the event store, showing a live status panel. Ctrl-C (or the "
            "end of --duration) stops the venues, drains every queue, fsyncs and exits 0."
        ),
    )
    parser.add_argument(
        "--data-dir",
        default=os.environ.get("MDC_DATA_DIR", DEFAULT_DATA_DIR),
        help="event store directory (default: $MDC_DATA_DIR or ./data)",
    )
    parser.add_argument(
        "--duration",
        type=float,
        default=None,
        metavar="SECONDS",
        help="stop after this many seconds (default: run until Ctrl-C)",
    )
    parser.add_argument(
        "--venues",
        default="binance,coinbase,kraken,alpaca",
        help="comma-separated venues to collect (default: all four)",
    )
    parser.add_argument("--seed", type=int, default=1, help="simulator seed (default 1)")
    parser.add_argument(
        "--rate",
        type=float,
        default=50.0,
        help="simulator model events per second per symbol (default 50)",
    )
    parser.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    if args.duration is not None and args.duration <= 0:
        print("mdc run: --duration must be a positive number of seconds", file=sys.stderr)
        return 2
    return asyncio.run(_collect(args))


async def _collect(args: argparse.Namespace) -> int:
    from actors.connection import Endpoint
    from actors.local import LocalPipeline, VenueRun
    from actors.panel import StatusPanel
    from mdc.simulator.server import Simulator
    from mdc.store import Store

    venues = tuple(v.strip() for v in args.venues.split(",") if v.strip())
    sim_config = SimulatorConfig(venues=venues, seed=args.seed, rate=args.rate)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with Simulator(sim_config) as sim:
        runs = [
            VenueRun(venue, _session_config(venue, sim_config), Endpoint(urls.ws_base, urls.http))
            for venue, urls in sim.urls.items()
        ]
        store = Store.open(args.data_dir)
        pipeline = LocalPipeline(runs, store)
        panel = StatusPanel(pipeline, args.data_dir)
        started = time.monotonic()
        with panel.live():
            if args.duration is not None:
                loop.call_later(args.duration, stop.set)
            await asyncio.gather(pipeline.run(stop), panel.refresh_until(stop))
        store.close()
        print(panel.summary(time.monotonic() - started))
    return 0


def _session_config(venue: str, sim_config: SimulatorConfig) -> SessionConfig:
    symbols = tuple(spec.symbol for spec in sim_config.specs(venue))
    if venue == "alpaca":
        return SessionConfig(symbols, key=sim_config.alpaca_key, secret=sim_config.alpaca_secret)
    return SessionConfig(symbols)
