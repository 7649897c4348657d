"""`mdc run` and `mdc status`: the collector on Ray (or in one process), with a live panel."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import json
import os
import shutil
import signal
import sys
import time
from collections.abc import AsyncIterator
from functools import partial
from typing import TYPE_CHECKING

from actors.sidefiles import SideFile
from mdc.errors import CollectorError, ConfigError
from mdc.store.cliargs import add_data_dir, default_data_dir

if TYPE_CHECKING:
    from mdc.config import CollectorConfig

TRUTH_RETENTION = 500_000
"""Book updates per symbol the simulator's ground truth keeps, so `mdc verify` can check them."""
TRUTH_META = "run.json"
SIMULATOR_FILE = "simulator.json"
"""While `mdc run` runs on the simulator: each venue's addresses, for its `/_sim` fault controls."""


def register_run(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "run",
        help="run the collector (default: all four venues on the embedded simulator)",
        description=(
            "Collect trades, quotes and order books into the event store. Without --config it "
            "starts the embedded exchange simulator on 127.0.0.1 and collects all four venues "
            "from it (no internet, no keys). Providers, book keepers and the storage writer run "
            "as Ray actors under a supervisor (a local Ray with --num-cpus CPUs unless --address "
            "names a cluster). Ctrl-C, SIGTERM or the end of --duration stops the venues, drains "
            "every queue, fsyncs and exits 0. With OTEL_TRACES_EXPORTER=console the actors' spans "
            "go to $MDC_TRACES_FILE, by default DATA_DIR/traces.jsonl (named at start), for 10% "
            "of batches unless OTEL_TRACES_SAMPLER_ARG sets the share."
        ),
    )
    parser.add_argument("--config", metavar="FILE", help="TOML config file (see README)")
    parser.add_argument(
        "--data-dir",
        default=None,
        help="event store directory (default: config, $MDC_DATA_DIR or ./data)",
    )
    parser.add_argument(
        "--duration",
        type=float,
        default=None,
        metavar="SECONDS",
        help="stop after this many seconds (default: run until Ctrl-C)",
    )
    parser.add_argument(
        "--address",
        default=None,
        metavar="ADDR",
        help="Ray cluster to join (e.g. 'auto'); default: start a local Ray",
    )
    parser.add_argument("--num-cpus", type=int, default=2, help="CPUs for a local Ray (default 2)")
    parser.add_argument(
        "--local",
        action="store_true",
        help="run everything in this process without Ray (debugging, baseline, a light "
        "primary for replication); gRPC market data and replication are served too",
    )
    parser.add_argument(
        "--venues", default=None, help="comma-separated subset of the configured venues"
    )
    parser.add_argument(
        "--metrics-host",
        default="127.0.0.1",
        help="address of the Prometheus /metrics, /livez, /readyz server "
        "(default 127.0.0.1; 0.0.0.0 in a pod)",
    )
    parser.add_argument(
        "--metrics-port",
        type=int,
        default=0,
        help="its port (default 0: any free port, printed at start)",
    )
    parser.add_argument(
        "--api-host", default="127.0.0.1", help="prediction API address (default 127.0.0.1)"
    )
    parser.add_argument(
        "--api-port", type=int, default=8000, help="prediction API port (default 8000)"
    )
    parser.add_argument(
        "--api-direct-ingress",
        action="store_true",
        help="the default now: the API's replica answers on --api-port itself (Ray Serve direct "
        "ingress, experimental in Ray 2.60 which mdc pins); kept for old scripts",
    )
    parser.add_argument(
        "--api-proxy",
        action="store_true",
        help="serve the API through Ray Serve's HTTP proxy on --api-port instead (about a "
        "quarter of the throughput on small machines; see benchmarks/RESULTS.md)",
    )
    parser.add_argument(
        "--max-feature-age",
        type=float,
        default=5.0,
        metavar="S",
        help="the API answers 503 for live features not confirmed current within S seconds "
        "(default %(default)s)",
    )
    parser.add_argument(
        "--no-api",
        action="store_true",
        help="do not start the prediction API (Ray Serve); keys come from $MDC_API_KEYS, else "
        "a random key is made for the run and kept in DATA_DIR/api-key",
    )
    parser.add_argument(
        "--grpc-host",
        default="127.0.0.1",
        help="gRPC market data address (mdc.v1.MarketDataService; default 127.0.0.1)",
    )
    parser.add_argument(
        "--grpc-port", type=int, default=50051, help="gRPC market data port (default 50051)"
    )
    parser.add_argument(
        "--no-grpc",
        action="store_true",
        help="do not start the gRPC market data server (live trades, quotes, depth, bars for "
        "`mdc subscribe` and other programs; same keys as the API)",
    )
    parser.add_argument(
        "--alerts",
        metavar="FILE",
        help="alert rules and where notifications go (YAML: 'alerts:', 'route:', "
        "'receivers:'; e.g. alerts.yaml), evaluated live on the durable log; `mdc alerts "
        "list` shows what fires",
    )
    parser.add_argument("--seed", type=int, default=1, help="simulator seed (default 1)")
    parser.add_argument(
        "--rate",
        type=float,
        default=50.0,
        help="simulator model events per second per symbol (default 50)",
    )
    parser.set_defaults(func=_run)


def register_status(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "status",
        help="print the running collector's status panel once",
        description=(
            "Print the status panel of the `mdc run` that writes to DATA_DIR (it refreshes "
            "DATA_DIR/status.json every second): one row per actor (writer, book keepers, "
            "providers). Plain text as wide as the terminal ($COLUMNS, or 80 in a pipe); a table "
            "too wide for that is split into several, each listing every actor by its full name. "
            "Exits 1 if no collector has written it in the last 10 seconds."
        ),
    )
    add_data_dir(parser)
    parser.set_defaults(func=_status)


def _status(args: argparse.Namespace) -> int:
    from actors.panel import STALE_AFTER_NS, STATUS_FILE, footer, read_status, text

    data_dir = args.data_dir or default_data_dir()
    path = os.path.join(data_dir, STATUS_FILE)
    try:
        status = read_status(data_dir)
    except FileNotFoundError:
        raise ConfigError(
            f"no collector status in {data_dir} (is `mdc run` using this --data-dir?)"
        ) from None
    age_ns = time.time_ns() - status["written_ns"]
    title = f"mdc status ({age_ns / 1e9:.1f}s ago)"
    width = shutil.get_terminal_size().columns  # $COLUMNS, the terminal's, else 80 in a pipe
    print(text(status["rows"], width, title, footer(status["rows"], data_dir)), end="")
    if age_ns > STALE_AFTER_NS:
        print(
            f"mdc status: the collector has not updated {path} for {age_ns / 1e9:.0f}s: it "
            "is not running",
            file=sys.stderr,
        )
        return 1
    return 0


def _run(args: argparse.Namespace) -> int:
    from mdc.config import load_config

    if args.duration is not None and args.duration <= 0:
        raise ConfigError("--duration must be a positive number of seconds")
    # Before Ray starts: a bad config is refused at once, not after the cluster came up.
    config = load_config(args.config, data_dir=args.data_dir, venues=args.venues)
    _refuse_follower(config.data_dir)
    args.alert_config = None
    if args.alerts:
        from mdc.alerts.config import load_alert_config

        if args.local:
            raise ConfigError("--alerts needs Ray (drop --local)")
        args.alert_config = load_alert_config(args.alerts, os.environ)
    if not args.local:
        # On the main thread: Ray ties its daemons' lives to the thread that starts them.
        from actors.runtime import init_ray

        print("mdc run: starting Ray (a few seconds)...", file=sys.stderr)
        if args.address is None and not args.no_api:
            from serve.deployment import ServePath, preset_serve_environment

            # Inherited by Ray's processes: a faster API start.
            preset_serve_environment(ServePath.chosen(args.api_proxy), args.api_port)
        init_ray(args.address, args.num_cpus)
    return asyncio.run(_collect(args, config))


def _refuse_follower(data_dir: str) -> None:
    """A follower's log is its primary's: writing to it would fork it (fencing)."""
    from mdc.replication.epochs import ReplicationState, Role

    state = ReplicationState.load(data_dir)
    if state.role is Role.FOLLOWER:
        raise ConfigError(
            f"{data_dir} is a follower of {state.primary} (epoch {state.epoch}): collecting "
            f"into it would fork its log; promote it first (mdc promote --data-dir {data_dir})"
        )


async def _collect(args: argparse.Namespace, config: CollectorConfig) -> int:
    from actors.panel import StatusPanel

    stop = StopSignal()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    if args.duration is not None:
        loop.call_later(args.duration, stop.set)
    started = time.monotonic()
    async with _endpoints(config, args, stop) as runs:
        runner = _local if args.local else _on_ray
        await runner(runs, config, stop, args, StatusPanel)
    elapsed = time.monotonic() - started
    print(f"mdc run: stopped cleanly after {elapsed:.1f}s; data in {config.data_dir}")
    return 0


@contextlib.asynccontextmanager
async def _endpoints(config, args: argparse.Namespace, stop: StopSignal) -> AsyncIterator[list]:
    """Venue runs with real endpoints; simulated venues get a simulator started here."""
    from actors.connection import Endpoint, VenueRun
    from mdc.simulator.config import SimulatorConfig
    from mdc.simulator.server import Simulator

    simulated = [v for v in config.venues if v.simulated]
    runs = [
        VenueRun(v.name, v.session, Endpoint(v.ws_url, v.rest_url))
        for v in config.venues
        if not v.simulated
    ]
    if not simulated:
        yield runs
        return
    symbols = {v.name: v.session.symbols for v in simulated}
    sim_config = SimulatorConfig(
        venues=tuple(symbols),
        symbols=symbols,
        seed=args.seed,
        rate=args.rate,
        truth_book_retention=TRUTH_RETENTION,
    )
    async with Simulator(sim_config) as sim:
        for v in simulated:
            urls = sim.urls[v.name]
            session = v.session_with_keys(sim_config.alpaca_key, sim_config.alpaca_secret)
            runs.append(VenueRun(v.name, session, Endpoint(urls.ws_base, urls.http)))
        controls = os.path.join(config.data_dir, SIMULATOR_FILE)
        SideFile("simulator's addresses", controls, "its faults cannot be found").write(
            partial(_write_simulator_file, sim, controls)
        )
        print(
            f"mdc run: simulator up for {', '.join(symbols)} on 127.0.0.1; "
            f"its addresses and fault controls: {controls}",
            file=sys.stderr,
        )
        try:
            yield runs
        finally:
            with contextlib.suppress(OSError):
                os.remove(controls)
        truth_dir = os.path.join(config.data_dir, "truth")
        write_truth(sim, [v.name for v in simulated], truth_dir, stop.at_ns or time.time_ns())


def _write_simulator_file(sim, path: str) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    venues = {name: {"ws": u.ws, "http": u.http} for name, u in sim.urls.items()}
    from mdc.simulator.control import LINK_REQUEST_KEYS, MARKET_FAULTS
    from mdc.simulator.faults import FaultConfig

    link = [f.name for f in dataclasses.fields(FaultConfig)] + list(LINK_REQUEST_KEYS)
    controls = {
        "faults": f"POST {{http}}/_sim/faults {{{', '.join(link)}}}",
        "market": f"POST {{http}}/_sim/market {{{', '.join(('symbol', *MARKET_FAULTS))}}}",
    }
    with open(path + ".tmp", "w") as f:
        json.dump({"venues": venues, "controls": controls}, f, indent=1)
    os.replace(path + ".tmp", path)


class StopSignal(asyncio.Event):
    """An Event that remembers when it was first set: the moment collection stopped."""

    at_ns: int | None = None

    def set(self) -> None:
        if self.at_ns is None:
            self.at_ns = time.time_ns()
        super().set()


def write_truth(sim, venues: list[str], truth_dir: str, stopped_ns: int) -> None:
    """The simulator's ground truth beside the data, for `mdc verify` (replaces an older one).
    A disk that cannot take it costs only the check: one warning, and no partial truth left
    for `mdc verify` to misread."""
    truth = SideFile("ground truth", truth_dir, "`mdc verify` cannot check this run")
    if not truth.write(partial(_dump_truth, sim, venues, truth_dir, stopped_ns)):
        for name in [*(f"{venue}.jsonl" for venue in venues), TRUTH_META]:
            with contextlib.suppress(OSError):
                os.remove(os.path.join(truth_dir, name))


def _dump_truth(sim, venues: list[str], truth_dir: str, stopped_ns: int) -> None:
    os.makedirs(truth_dir, exist_ok=True)
    for venue in venues:
        path = os.path.join(truth_dir, f"{venue}.jsonl")
        with contextlib.suppress(FileNotFoundError):
            os.remove(path)
        sim.truth(venue).dump(path)
    with open(os.path.join(truth_dir, TRUTH_META), "w") as f:
        json.dump({"stopped_ns": stopped_ns, "venues": venues}, f)


async def _local(runs, config: CollectorConfig, stop: asyncio.Event, args, panel_type) -> None:
    from actors.local import LocalPipeline
    from mdc.store import Store
    from serve.streaming.tails import LocalTails

    data_dir = config.data_dir
    with Store.open(data_dir) as store:
        tails = LocalTails(store.wal)
        pipeline = LocalPipeline(runs, store, on_stored=tails.grew)
        panel = panel_type(pipeline.rows, data_dir)
        async with _local_grpc(data_dir, args, config, tails):
            with panel.live():
                await asyncio.gather(pipeline.run(stop), panel.refresh_until(stop))


@contextlib.asynccontextmanager
async def _local_grpc(data_dir: str, args, config: CollectorConfig, tails) -> AsyncIterator[None]:
    """`mdc run --local`'s gRPC server (market data and replication) on this event loop."""
    if args.no_grpc:
        yield
        return
    from serve.streaming.grpc_server import MarketDataServer

    venues = [v.name for v in config.venues]
    server = MarketDataServer(data_dir, tails, _keys(data_dir, args, config), venues)
    try:
        bound = await server.start(args.grpc_host, args.grpc_port)
    except CollectorError as exc:
        raise ConfigError(f"{exc} (choose --grpc-port, or --no-grpc)") from exc
    print(f"mdc run: gRPC market data and replication on {bound.target}", file=sys.stderr)
    try:
        yield
    finally:
        await server.stop()


async def _on_ray(runs, config: CollectorConfig, stop: asyncio.Event, args, panel_type) -> None:
    from actors.metrics import Metrics, MetricsServer, readiness_from_status
    from actors.supervisor import Supervisor
    from actors.telemetry import console_to_file

    data_dir = config.data_dir
    spans = console_to_file(data_dir, os.environ)  # before the actors start: they take the env
    if spans:
        ratio = os.environ["OTEL_TRACES_SAMPLER_ARG"]
        print(
            f"mdc run: spans: {spans} (OTEL_TRACES_EXPORTER=console, one JSON object a line; "
            f"share of batches traced: OTEL_TRACES_SAMPLER_ARG={ratio})",
            file=sys.stderr,
        )
    alerts_start = _alerts_start(data_dir, args)  # before any provider writes
    supervisor = Supervisor(runs, os.path.abspath(data_dir), standby=True)
    await supervisor.start()
    metrics = Metrics()
    server = MetricsServer(
        metrics,
        lambda: readiness_from_status(supervisor.status()),
        host=args.metrics_host,
        port=args.metrics_port,
    )
    port = await server.start()
    print(
        f"mdc run: metrics on http://{args.metrics_host}:{port}/metrics (probes: /livez, /readyz)",
        file=sys.stderr,
    )

    def rows() -> dict[str, dict]:
        status = supervisor.status()
        metrics.update_from_status(status)
        return status

    panel = panel_type(rows, data_dir)
    keys = _keys(data_dir, args, config)
    try:
        grpc = _grpc(data_dir, args, config, supervisor, keys)
        async with (
            grpc as stream_target,
            _api(data_dir, args, config, keys, stream_target),
            _alerting(data_dir, args, supervisor, alerts_start, metrics),
        ):
            with panel.live():
                await asyncio.gather(
                    supervisor.watch(stop),
                    panel.refresh_until(stop),
                    _reloads(supervisor, runs, data_dir, stop),
                )
        print("mdc run: draining: flushing and fsyncing every pending batch...", file=sys.stderr)
        await supervisor.stop()
    finally:
        await server.stop()


async def _reloads(supervisor, runs, data_dir: str, stop: asyncio.Event) -> None:
    """Answers `mdc plugins reload` (and the admin API's reload) while the collector runs."""
    from actors.plugin_reload import answer_reloads, installed_check
    from mdc.plugin_reloads import ReloadInbox

    check = installed_check({run.venue: run.session.symbols for run in runs})
    await answer_reloads(supervisor, ReloadInbox(data_dir), check, stop)


def _keys(data_dir: str, args: argparse.Namespace, config: CollectorConfig):
    """One key ring for every surface (prediction API, gRPC), made once."""
    if args.no_api and args.no_grpc:
        return None
    from actors.api import key_ring

    return key_ring(data_dir, config.api_key_hashes)


def _grpc(
    data_dir: str, args: argparse.Namespace, config: CollectorConfig, supervisor, keys
) -> contextlib.AbstractAsyncContextManager:
    if args.no_grpc:
        return contextlib.nullcontext()
    from actors.streams import GrpcSettings, market_data_server

    settings = GrpcSettings(args.grpc_host, args.grpc_port)
    venues = [v.name for v in config.venues]
    return market_data_server(data_dir, supervisor, keys, settings, venues)


def _alerts_start(data_dir: str, args: argparse.Namespace):
    if args.alert_config is None:
        return None
    from alerts.follower import log_end

    return log_end(data_dir)


def _alerting(
    data_dir: str, args: argparse.Namespace, supervisor, start, metrics
) -> contextlib.AbstractAsyncContextManager:
    if args.alert_config is None:
        return contextlib.nullcontext()
    from alerts.actor import alerting

    return alerting(os.path.abspath(data_dir), supervisor, args.alert_config, start, metrics)


def _api(
    data_dir: str, args: argparse.Namespace, config: CollectorConfig, keys, stream_target
) -> contextlib.AbstractAsyncContextManager:
    if args.no_api:
        return contextlib.nullcontext()
    from actors.api import ApiSettings, prediction_api
    from serve.deployment import ServePath

    settings = ApiSettings(
        args.api_host,
        args.api_port,
        path=ServePath.chosen(args.api_proxy),
        environment_preset=args.address is None,
        venues=tuple(v.name for v in config.venues),
        max_feature_age_s=args.max_feature_age,
        data_dir=os.path.abspath(data_dir),
    )
    return prediction_api(settings, keys, stream_target)


def register_plugins(subparsers: argparse._SubParsersAction) -> None:
    """`mdc plugins`: list and validate (mdc.commands.plugins), and reload, which asks the
    running collector (this shell's business)."""
    from mdc.commands.plugins import register

    register(subparsers, {"reload": _add_reload})


def _add_reload(actions: argparse._SubParsersAction) -> None:
    parser = actions.add_parser(
        "reload",
        help="make a running collector load the installed version of a venue plugin",
        description=(
            "Hot reload, after `pip install -U` of a venue plugin: the collector writing to "
            "DATA_DIR loads the version installed now in a fresh process and checks it; if it "
            "cannot run, nothing changes and this says why (exit 1). Otherwise the venue's "
            "provider drains (its connection closed, every batch acknowledged) and stops, a new "
            "provider actor runs the new version and resumes after the newest durable trade of "
            "each symbol (backfilling what was published meanwhile, stored once), and the books "
            "resync from fresh snapshots. Exits 0 once the new version runs; 2 when no collector "
            "runs on DATA_DIR or none answered within --timeout (the request is withdrawn). "
            "The admin API does the same: POST /v1/plugins/NAME/reload."
        ),
    )
    parser.add_argument("name", metavar="NAME", help="the venue id (see `mdc plugins list`)")
    add_data_dir(parser)
    parser.add_argument(
        "--timeout",
        type=float,
        default=120.0,
        metavar="S",
        help="wait at most S seconds for the collector's answer (default 120)",
    )
    parser.set_defaults(func=_reload)


def _reload(args: argparse.Namespace) -> int:
    from actors.plugin_reload import NoAnswer, reload_and_wait
    from mdc.plugin_reloads import ReloadInbox

    data_dir = args.data_dir or default_data_dir()
    if not _collector_running(data_dir, time.time_ns()):
        raise ConfigError(f"no collector runs on {data_dir} (is `mdc run` using this --data-dir?)")
    print(
        f"mdc plugins: asked the collector on {data_dir} to reload {args.name}; waiting up to "
        f"{args.timeout:.0f}s...",
        file=sys.stderr,
    )
    try:
        answer = asyncio.run(reload_and_wait(ReloadInbox(data_dir), args.name, args.timeout))
    except NoAnswer as exc:
        raise ConfigError(f"the collector on {data_dir}: {exc}") from None
    print(answer.detail)
    return 0 if answer.ok else 1


def _collector_running(data_dir: str, now_ns: int) -> bool:
    from actors.panel import STALE_AFTER_NS, read_status

    try:
        return now_ns - int(read_status(data_dir)["written_ns"]) < STALE_AFTER_NS
    except (OSError, ValueError, KeyError, TypeError):
        return False
