"""`mdc serve`: the prediction API on Ray Serve until Ctrl-C (or SIGTERM)."""

from __future__ import annotations

import argparse
import dataclasses
import os
import signal
import sys
import threading

DESCRIPTION = """\
Serve ONNX predictions, live feature vectors and the model catalogue over HTTP with Ray Serve.
Every endpoint but GET /healthz needs an API key: set MDC_API_KEYS (comma-separated keys) and/or
MDC_API_KEY_HASHES (sha256:<hex> digests, see serve.auth.key_hash); send it as X-API-Key or
Authorization: Bearer.

Endpoints: POST /v1/predict {"features": [...]} or {"venue", "symbol"} (optional "model": "v2"),
GET /v1/features/{venue}/{symbol}, GET /v1/features, GET /v1/models, PUT /v1/ab
{"A": "v1", "B": "v2", "weight_b": 0.2}, GET /openapi.json (the OpenAPI document), GET /healthz.
Requests beyond the in-flight limit (serve.app.MAX_INFLIGHT) get 503 at once; health never waits.

Live features come from the event store at --data-dir (read-only, the last hour replayed at start,
then followed every 0.5 s) or from collector actors (--actor NAME, may hold {venue}; method
feature_updates(epoch, since, wait_s), as the collector's BookActors have). The replica keeps a
copy, so a request never waits on the store or an actor; answers built on live features carry
ts_recv and age_ms, and a copy not confirmed current within --max-feature-age seconds is answered
503 with Retry-After. Without a source, only explicit feature vectors can be predicted.

The replica answers on --port itself (Ray Serve direct ingress, experimental in Ray 2.60, which
mdc pins); Serve's own proxy runs on another port, printed at start. --proxy puts the proxy on
--port instead (needed for several replicas; about a quarter of the throughput here). If direct
ingress cannot start, mdc serve says why and falls back to the proxy."""


def register_serve(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "serve",
        help="serve predictions and live features over HTTP (Ray Serve)",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--host", default="127.0.0.1", help="listen address (default: %(default)s)")
    parser.add_argument("--port", type=int, default=8000, help="HTTP port (default: %(default)s)")
    parser.add_argument(
        "--models", metavar="DIR", help="models directory (default: models/shipped)"
    )
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--data-dir", metavar="DIR", help="event store for live features")
    source.add_argument("--actor", metavar="NAME", help="named Ray actor giving live features")
    parser.add_argument("--actor-namespace", metavar="NS", help="namespace of --actor")
    parser.add_argument(
        "--a", dest="version_a", metavar="VERSION", help="variant A (default: first)"
    )
    parser.add_argument(
        "--b", dest="version_b", metavar="VERSION", help="variant B (default: second)"
    )
    parser.add_argument(
        "--weight-b", type=float, default=0.2, help="share of clients on B (default: %(default)s)"
    )
    parser.add_argument("--min-replicas", type=int, default=1, metavar="N", help="default: 1")
    parser.add_argument(
        "--max-replicas", type=int, default=1, metavar="N", help="above min: autoscale (default: 1)"
    )
    parser.add_argument(
        "--target-ongoing",
        type=float,
        default=8.0,
        metavar="N",
        help="autoscaling target of ongoing requests per replica (default: %(default)s)",
    )
    parser.add_argument(
        "--api-key-hash",
        action="append",
        default=[],
        metavar="sha256:HEX",
        help="accept the key with this digest (repeatable; adds to MDC_API_KEYS)",
    )
    parser.add_argument(
        "--direct-ingress",
        action="store_true",
        help="the default now: the replica answers on --port itself (Ray Serve direct ingress); "
        "kept for old scripts",
    )
    parser.add_argument(
        "--proxy",
        action="store_true",
        help="serve through Ray Serve's HTTP proxy on --port instead (always so with several "
        "replicas)",
    )
    parser.add_argument(
        "--max-feature-age",
        type=float,
        default=5.0,
        metavar="S",
        help="503 for live features not confirmed current within S seconds (default %(default)s)",
    )
    parser.add_argument(
        "--config",
        metavar="FILE",
        help="collector TOML config; its [api] key_hashes are accepted too",
    )
    parser.add_argument(
        "--grpc-port",
        type=int,
        default=50051,
        metavar="PORT",
        help="with --data-dir: the store's gRPC market data (history, replays, and what a "
        "collector adds to the store) on --host:PORT, relayed by /v1/stream too (default "
        "%(default)s; 0: none)",
    )
    parser.add_argument(
        "--num-cpus", type=int, default=2, metavar="N", help="CPUs of a local Ray (default: 2)"
    )
    parser.add_argument(
        "--address", metavar="ADDR", help="join this Ray cluster (e.g. auto) instead of a local one"
    )
    parser.set_defaults(func=run)


def _spec(args: argparse.Namespace) -> tuple:
    from mdc.config import load_config
    from mdc.errors import ConfigError
    from serve.auth import KeyRing
    from serve.deployment import DEFAULT_MODELS_DIR, ServeSpec

    if args.data_dir is not None and not os.path.isdir(os.path.join(args.data_dir, "wal")):
        raise ConfigError(f"--data-dir {args.data_dir!r}: no event store there")
    config_hashes = load_config(args.config).api_key_hashes if args.config else ()
    spec = ServeSpec(
        keys=KeyRing.from_env(os.environ, (*args.api_key_hash, *config_hashes)),
        models_dir=args.models or DEFAULT_MODELS_DIR,
        data_dir=args.data_dir,
        actor=args.actor,
        actor_namespace=args.actor_namespace,
        version_a=args.version_a,
        version_b=args.version_b,
        weight_b=args.weight_b,
        max_feature_age_s=args.max_feature_age,
        store_dir=os.path.abspath(args.data_dir) if args.data_dir else None,
    )
    return spec, spec.router()  # bad models fail here, before Ray starts


def _wait_for_stop() -> None:
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        while not stop.wait(3600):
            pass
    except KeyboardInterrupt:
        pass


def run(args: argparse.Namespace) -> int:
    import ray

    from actors.runtime import init_ray
    from mdc.errors import ConfigError
    from serve.ab import check_weight
    from serve.deployment import (
        Scaling,
        ServeOptions,
        ServePath,
        describe,
        ensure_port_free,
        preset_serve_environment,
        start_serve,
        stop_serve,
    )

    check_weight(args.weight_b)
    if args.max_feature_age <= 0:
        raise ConfigError("--max-feature-age must be a positive number of seconds")
    spec, router = _spec(args)
    scaling = Scaling(args.min_replicas, args.max_replicas, args.target_ongoing)
    scaling.options()
    ensure_port_free(args.host, args.port)
    path = ServePath.chosen(args.proxy)
    if args.address is None:  # our own Ray: it inherits Serve's environment (faster start)
        preset_serve_environment(path, args.port)
    init_ray(args.address, args.num_cpus)
    options = ServeOptions(path, scaling, environment_preset=args.address is None)
    market_data = None
    try:
        # Only once Ray has started its processes: a fork of this process after the gRPC server
        # accepted connections can close their sockets (gRPC's fork support), and a client of
        # a starting `mdc serve` got "UNAVAILABLE: Stream removed (Socket closed)" in CI.
        market_data = _market_data(args, spec)
        if market_data is not None:
            spec = dataclasses.replace(spec, stream_target=market_data.target)
        served = start_serve(spec, args.host, args.port, options)
        split = router.split
        print(
            f"mdc serve: ready at {served.url} (A={split.a.version}, B={split.b.version}, "
            f"weight_b={split.weight_b}); Ctrl-C stops",
            flush=True,
        )
        for line in describe(served):
            print(f"mdc serve: {line}", flush=True)
        _wait_for_stop()
        print("mdc serve: stopping", file=sys.stderr, flush=True)
    finally:
        stop_serve()
        ray.shutdown()
        if market_data is not None:
            market_data.stop()
    return 0


def _market_data(args: argparse.Namespace, spec):
    """The store's gRPC market data server (on a thread of this process), or None."""
    if args.data_dir is None or args.grpc_port == 0:
        return None
    from mdc.errors import CollectorError
    from serve.streaming.grpc_server import MarketDataServer
    from serve.streaming.standalone import ServerThread
    from serve.streaming.tails import StoreTails

    data_dir = os.path.abspath(args.data_dir)
    thread = ServerThread(MarketDataServer(data_dir, StoreTails(data_dir), spec.keys))
    try:
        thread.start(args.host, args.grpc_port)
    except CollectorError as exc:
        raise CollectorError(f"{exc} (choose --grpc-port, or 0 for none)") from exc
    print(f"mdc serve: gRPC market data of {data_dir} on {thread.target}", flush=True)
    return thread


COST_DESCRIPTION = """\
What the collector costs, and what to change: storage bytes by venue, symbol, event type and tier
(read from the store's files: the WAL per event type, the Parquet, JSONL and checkpoint
projections per stream), network bytes and API calls per provider (from DATA_DIR/status.json,
which `mdc run` rewrites every second), priced at unit prices you can set, projected over the
next 30 days at the observed rates, with recommendations ranked by their monthly saving.

Rates: storage grows as fast as it grew from the first to the last stored event (billed on the
month's average); network and API usage at the collector run's rate so far, except a start's
own calls (a connect per provider, a snapshot per book symbol), counted once. "Use" of a symbol
is the trades stored for it: recommendations flag books costing many bytes per trade and symbols
with no trade. Costs are exact (decimal), rounded once to 6 places, in the currency of the
prices; a GB is 10^9 bytes. The same report is served as JSON at GET /v1/cost (query parameters
named like the prices: storage_gb_month=0.02).

Exits 0 with the report, 2 when the data dir does not exist or a price is bad."""


def register_cost(subparsers: argparse._SubParsersAction) -> None:
    from mdc.cost import UnitPrices
    from mdc.store.cliargs import add_data_dir

    parser = subparsers.add_parser(
        "cost",
        help="what storage, network and API calls cost, a month ahead, and what to change",
        description=COST_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_data_dir(parser)
    parser.add_argument("--json", action="store_true", help="the report as JSON (as /v1/cost)")
    for price in UnitPrices().as_list():
        parser.add_argument(
            f"--price-{price['name'].replace('_', '-')}",
            dest=f"price_{price['name']}",
            metavar="X",
            help=f"{price['unit']} (default {price['default']})",
        )
    parser.set_defaults(func=_cost)


def _cost(args: argparse.Namespace) -> int:
    import json
    import shutil

    from mdc.cost import PRICE_NAMES, BadPrice, UnitPrices, cost_report, render_text
    from mdc.errors import ConfigError
    from mdc.store.cliargs import default_data_dir
    from serve.cost_api import cost_inputs

    given = {n: v for n in PRICE_NAMES if (v := getattr(args, f"price_{n}")) is not None}
    try:
        prices = UnitPrices.parse(given)
    except BadPrice as exc:
        raise ConfigError(f"--price-{exc.field.replace('_', '-')}: {exc.reason}") from None
    data_dir = args.data_dir or default_data_dir()
    if not os.path.isdir(data_dir):
        raise ConfigError(f"no data dir {data_dir!r} (choose --data-dir)")
    report = cost_report(cost_inputs(data_dir), prices)
    if args.json:
        print(json.dumps(report.as_dict(), indent=2))
    else:
        width = min(shutil.get_terminal_size().columns, 80)
        print(render_text(report, width), end="")
    return 0
