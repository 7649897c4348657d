"""`mdc load`: drive the serving API with Locust, show progress, print the latency/error table."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from loadtests.workload import DEFAULT_GRPC_TARGET, DEFAULT_THINK_S

if TYPE_CHECKING:
    from loadtests.runner import LoadHandle, Progress

DEFAULT_HOST = "http://127.0.0.1:8000"
PROGRESS_EVERY_S = 1.0
PLAIN_PROGRESS_EVERY_S = 5.0


def register_load(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "load",
        help="load-test the prediction/feature API with Locust and report p50/p95/p99 and errors",
        description=(
            "Runs Locust headless against a running API (start it with `mdc serve`), shows "
            "progress, then prints a markdown table of requests, errors, requests/s and "
            "p50/p95/p99 latency per endpoint. OUT gets report.md, report.csv, report.json "
            "(with requests and failures per second), report.html (a standalone page) with "
            "its charts report-percentiles.png and report-throughput.png, Locust's raw CSV "
            "files and locust.log. A non-2xx answer, or a 2xx body missing the API "
            "contract's fields, counts as an error."
        ),
        epilog=(
            "scenarios: predict = POST /v1/predict, half with explicit feature vectors (length "
            "from --feature-count or GET /v1/models), half by venue+symbol; features = GET "
            "/v1/features/{venue}/{symbol}; all = both; stream = users that each hold a live gRPC "
            "SubscribeTrades subscription of --instrument (one row: events received, and their "
            "age on arrival as the latency; a broken stream is an error, then resumed from its "
            "position). Exit status: 0 ok; 1 no request "
            "completed or the error rate exceeded --max-error-rate; 2 bad options or the host "
            "does not answer GET /healthz."
        ),
    )
    parser.add_argument(
        "--users",
        type=_positive_int,
        default=8,
        metavar="N",
        help="simulated concurrent clients (default 8)",
    )
    parser.add_argument(
        "--duration",
        type=_positive_float,
        default=30.0,
        metavar="S",
        help="run time in seconds, rounded up to whole seconds (default 30)",
    )
    parser.add_argument(
        "--host",
        default=DEFAULT_HOST,
        metavar="URL",
        help=f"base URL of the API (default {DEFAULT_HOST})",
    )
    parser.add_argument(
        "--scenario",
        choices=("predict", "features", "all", "stream"),
        default="predict",
        help="which endpoints to load (default predict)",
    )
    parser.add_argument(
        "--spawn-rate",
        type=_positive_float,
        default=None,
        metavar="R",
        help="users started per second (default: all of them in one second)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        metavar="DIR",
        help="report directory (default ./load-reports/<UTC time>)",
    )
    parser.add_argument(
        "--api-key",
        default=None,
        metavar="KEY",
        help="sent as X-API-Key (default: first key of $MDC_API_KEYS, else $MDC_LOAD_API_KEY)",
    )
    parser.add_argument(
        "--max-error-rate",
        type=_fraction,
        default=1.0,
        metavar="F",
        help="exit 1 when errors/requests exceeds F, 0..1 (default 1.0 = never)",
    )
    parser.add_argument(
        "--instrument",
        action="append",
        default=None,
        metavar="VENUE:SYMBOL",
        help="instrument to query, repeatable (default binance:BTC-USDT)",
    )
    parser.add_argument(
        "--feature-count",
        type=_positive_int,
        default=None,
        metavar="N",
        help="length of explicit feature vectors (default: ask GET /v1/models "
        "and pin each vector to the model version it fits)",
    )
    parser.add_argument(
        "--think-ms",
        type=_non_negative_float,
        default=DEFAULT_THINK_S * 1000.0,
        metavar="MS",
        help=f"pause between one user's requests (default {DEFAULT_THINK_S * 1000.0:g})",
    )
    parser.add_argument(
        "--grpc-target",
        default=DEFAULT_GRPC_TARGET,
        metavar="HOST:PORT",
        help=f"gRPC market data of the stream scenario (default {DEFAULT_GRPC_TARGET})",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed for the generated requests")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from loadtests.report import render_markdown
    from loadtests.runner import check_grpc_health, check_health, start_load
    from loadtests.workload import (
        DEFAULT_INSTRUMENTS,
        LoadConfigError,
        Workload,
        default_api_key,
        parse_instrument,
    )

    api_key = args.api_key or default_api_key()
    if not api_key:
        raise LoadConfigError("no API key: pass --api-key or set MDC_API_KEYS or MDC_LOAD_API_KEY")
    instruments = (
        tuple(parse_instrument(text) for text in args.instrument)
        if args.instrument
        else DEFAULT_INSTRUMENTS
    )
    workload = Workload(
        instruments, args.feature_count, args.seed, args.think_ms / 1000.0, args.grpc_target
    )
    if args.scenario == "stream":
        check_grpc_health(args.grpc_target)
    else:
        check_health(args.host)
    out_dir = args.out or Path("load-reports") / time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    with start_load(
        args.host,
        args.users,
        args.duration,
        api_key,
        out_dir,
        scenario=args.scenario,
        spawn_rate=args.spawn_rate,
        workload=workload,
    ) as handle:
        _follow(handle, sys.stderr)
        report = handle.wait()
    print(render_markdown(report, handle.plan.title()))
    print(
        f"reports written to {out_dir}/report.md, report.csv, report.json and report.html",
        file=sys.stderr,
    )
    return _verdict(report.requests, report.error_rate, args.max_error_rate)


def _follow(handle: LoadHandle, stream: TextIO) -> None:
    """Print elapsed/duration and requests so far until Locust exits (one ticking line on a tty)."""
    tty = stream.isatty()
    last_plain: Progress | None = None
    while not handle.wait_for_exit(PROGRESS_EVERY_S):
        progress = handle.progress()
        line = (
            f"[{progress.elapsed_s:4.0f}/{handle.plan.run_seconds} s] "
            f"{progress.requests} requests, {progress.failures} errors"
            if progress.started
            else "starting Locust ..."
        )
        if tty:
            stream.write(f"\r{line:<60}")
        elif (
            last_plain is None
            or last_plain.started != progress.started
            or progress.elapsed_s - last_plain.elapsed_s >= PLAIN_PROGRESS_EVERY_S
        ):
            stream.write(f"{line}\n")
            last_plain = progress
        stream.flush()
    if tty:
        stream.write("\n")


def _verdict(requests: int, error_rate: float, max_error_rate: float) -> int:
    if requests == 0:
        print("mdc load: no request completed", file=sys.stderr)
        return 1
    if error_rate > max_error_rate:
        print(
            f"mdc load: error rate {error_rate:.2%} exceeds --max-error-rate {max_error_rate:.2%}",
            file=sys.stderr,
        )
        return 1
    return 0


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
    return value


def _non_negative_float(text: str) -> float:
    value = float(text)
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {text}")
    return value


def _fraction(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1, got {text}")
    return value
