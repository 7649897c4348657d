"""End-to-end collector pipeline: the Ray actors against the same core in one process.

1. Stored events/s, simulator -> durable store: Supervisor (ProviderActor -> BookActor ->
   StorageWriterActor on a local Ray, num_cpus=2) vs LocalPipeline (one process, no Ray), same
   venues, symbols and rate, rounds interleaved; counted by the writer over a fixed window after
   warm-up. The simulator runs in its own process for both, so neither shares its loop with it.
2. Receive -> durable latency: for every Nth event of a stored batch, (time the append + fsync
   returned) - ts_recv, measured around the store's append (a subclassed writer actor on Ray, a
   wrapped Store in one process; no product code changes).
3. Recovery after SIGKILL of a ProviderActor process: kill -> supervisor noticed -> new provider
   started -> streaming again (ping phase "streaming" and messages increasing).

Usage: python benchmarks/pipeline.py [--quick] [--results] (see --help). 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import multiprocessing as mp
import os
import signal
import statistics
import sys
import tempfile
import time
from collections import Counter, deque
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import ray
from tracing_cost import overhead_us_per_event

from actors.connection import Endpoint, VenueRun
from actors.local import LocalPipeline
from actors.runtime import init_ray
from actors.supervisor import WRITER_RESOURCE, Child, Supervisor, _as_future, _placement
from actors.telemetry import TRACES_FILE_ENV
from actors.waiting import wait_until
from actors.writer import StorageWriterActor
from mdc.batching import EventBatch
from mdc.config import load_config
from mdc.events import Event
from mdc.features import FeatureConfig
from mdc.simulator.config import SimulatorConfig
from mdc.store import AppendResult, Store
from mdc.supervision import ChildState, RestartPolicy
from mdc.venues.base import SessionConfig

EXTRA_SYMBOLS = {
    "binance": ("BTC-USDT", "ETH-USDT", "SOL-USDT", "XRP-USDT", "ADA-USDT", "DOGE-USDT"),
    "coinbase": ("BTC-USD", "ETH-USD", "SOL-USD", "XRP-USD", "ADA-USD", "DOGE-USD"),
    "kraken": ("BTC-USD", "ETH-USD", "SOL-USD", "XRP-USD", "ADA-USD", "DOGE-USD"),
    "alpaca": ("AAPL", "MSFT", "NVDA", "AMZN", "GOOG", "META"),
}
SAMPLE_EVERY = 8
"""Latency is sampled on every 8th event of a batch (bounded memory, negligible cost)."""
SAMPLE_CAP = 200_000
KILL_POLICY = RestartPolicy(
    max_restarts=100,
    window_s=600,
    backoff_initial_s=0.05,
    backoff_max_s=0.05,
    ping_timeout_s=2.0,
    ping_every_s=0.1,
)
POLL_S = 0.005
WORKER_NICENESS_ENV = "RAY_worker_niceness"
"""Ray config from the environment (case-sensitive); Ray starts its workers at nice 15."""
RESULTS_HEADING = "## pipeline"


@dataclass(frozen=True)
class Load:
    venues: tuple[str, ...]
    symbols_per_venue: int
    rate: float

    def symbols(self, venue: str) -> tuple[str, ...]:
        return EXTRA_SYMBOLS[venue][: self.symbols_per_venue]

    def simulator(self, seed: int) -> SimulatorConfig:
        symbols = {v: self.symbols(v) for v in self.venues}
        return SimulatorConfig(venues=self.venues, symbols=symbols, seed=seed, rate=self.rate)

    def describe(self) -> str:
        return (
            f"{','.join(self.venues)}; {self.symbols_per_venue} symbols/venue; "
            f"rate {self.rate:g} model events/s/symbol"
        )


# -- the simulator, in its own process ---------------------------------------------------------


def _serve_simulator(config: SimulatorConfig, urls: mp.Queue, stop: mp.Event) -> None:
    from mdc.simulator.server import Simulator

    async def serve() -> None:
        async with Simulator(config) as sim:
            urls.put({v: (u.ws_base, u.http) for v, u in sim.urls.items()})
            await asyncio.to_thread(stop.wait)

    asyncio.run(serve())


@contextlib.contextmanager
def serving_process(target: Callable, *args: object, timeout_s: float = 30) -> Iterator[tuple]:
    """`target(*args, out, stop)` in a spawned child until stop is set: what it put in `out`
    first (its URLs), and its pid."""
    ctx = mp.get_context("spawn")
    out, stop = ctx.Queue(), ctx.Event()
    process = ctx.Process(target=target, args=(*args, out, stop), daemon=True)
    process.start()
    try:
        yield out.get(timeout=timeout_s), process.pid
    finally:
        stop.set()
        process.join(10)
        if process.is_alive():
            process.kill()


def simulator_process(config: SimulatorConfig) -> contextlib.AbstractContextManager:
    """The simulator serving in a child process: its URLs and its pid."""
    return serving_process(_serve_simulator, config)


def sessions(load: Load, sim: SimulatorConfig) -> dict[str, SessionConfig]:
    """Each venue's session settings for the load: its symbols, the simulator's credentials."""
    config = load_config(None, venues=",".join(load.venues))
    return {
        v.name: replace(
            v.session_with_keys(sim.alpaca_key, sim.alpaca_secret), symbols=load.symbols(v.name)
        )
        for v in config.venues
    }


def venue_runs(load: Load, urls: dict[str, tuple[str, str]], sim: SimulatorConfig) -> list:
    return [
        VenueRun(venue, session, Endpoint(*urls[venue]))
        for venue, session in sessions(load, sim).items()
    ]


# -- receive -> durable latency, measured around the store's append ----------------------------


class LatencySampler:
    def __init__(self) -> None:
        self.samples: deque[int] = deque(maxlen=SAMPLE_CAP)

    def record(self, events: list[Event], durable_ns: int) -> None:
        self.samples.extend(durable_ns - e.ts_recv for e in events[::SAMPLE_EVERY])

    def take(self) -> list[int]:
        taken = list(self.samples)
        self.samples.clear()
        return taken


class SampledStore:
    """The LocalPipeline's store, timing each durable append."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.sampler = LatencySampler()

    def append(self, events: list[Event]) -> AppendResult:
        result = self.store.append(events)
        self.sampler.record(events, time.time_ns())
        return result


class _SampledWriter(StorageWriterActor.__ray_actor_class__):
    """The product's writer, timing each durable append."""

    def __init__(self, data_dir: str) -> None:
        super().__init__(data_dir)
        self.sampler = LatencySampler()

    @ray.method(concurrency_group="io")
    async def append(self, batch: EventBatch) -> tuple[str, int, int, int]:
        acknowledgement = await super().append(batch)
        if batch.seq % SAMPLE_EVERY == 0:  # batches arrive encoded: decoding costs
            self.sampler.record(batch.decoded(), time.time_ns())
        return acknowledgement

    @ray.method(concurrency_group="io")
    async def take_latencies(self) -> list[int]:
        return self.sampler.take()


SampledWriterActor = ray.remote(**StorageWriterActor._default_options)(_SampledWriter)
"""Same Ray options (concurrency groups...) as the product's writer actor."""


class SampledSupervisor(Supervisor):
    """The product's Supervisor with the timing writer in place of the plain one."""

    async def _start_writer(self) -> None:
        child = self.children["writer"]
        placement = _placement(WRITER_RESOURCE)
        child.handle = SampledWriterActor.options(**placement).remote(self.data_dir)
        await _as_future(child.handle.ping.remote())
        child.move_to(ChildState.RUNNING)


# -- throughput rounds -------------------------------------------------------------------------


@dataclass
class Probe:
    """How a round reads its stored count and latency samples, and which processes it uses."""

    count: Callable[[], Awaitable[tuple[int, int]]]
    """Events stored and appends (each one fsync) so far."""
    take: Callable[[], Awaitable[list[int]]]
    pids: dict[str, int]


@dataclass
class Round:
    mode: str
    events_per_s: float
    fsyncs_per_s: float
    latencies_ns: list[int]
    cores: dict[str, float]
    """CPU cores used over the window, per process role, plus 'machine' (every process)."""
    reconnects: int = 0
    actor_nice: int | None = None
    """Nice value of the Ray actor processes (the writer's), None in one process."""


def cpu_seconds(pids: dict[str, int]) -> dict[str, float]:
    """User+system CPU seconds per process (from /proc), and the whole machine's busy time."""
    ticks = os.sysconf("SC_CLK_TCK")
    used = {}
    for role, pid in pids.items():
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            used[role] = (int(fields[11]) + int(fields[12])) / ticks
    busy = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    used["machine"] = (sum(map(int, busy)) - int(busy[3]) - int(busy[4])) / ticks
    return used


async def measure_window(mode: str, probe: Probe, args) -> Round:
    """Stored events/s, latency samples and CPU over `args.window` s, after `args.warmup` s."""
    await asyncio.sleep(args.warmup)
    (events0, fsyncs0), start, cpu0 = await probe.count(), time.monotonic(), cpu_seconds(probe.pids)
    await probe.take()
    await asyncio.sleep(args.window)
    (events1, fsyncs1), end, cpu1 = await probe.count(), time.monotonic(), cpu_seconds(probe.pids)
    took = end - start
    cores = {role: (cpu1[role] - cpu0[role]) / took for role in cpu1}
    latencies = await probe.take()
    return Round(mode, (events1 - events0) / took, (fsyncs1 - fsyncs0) / took, latencies, cores)


async def local_round(runs: list[VenueRun], data_dir: str, pids: dict[str, int], args) -> Round:
    with Store.open(data_dir) as store:
        sampled = SampledStore(store)
        pipeline = LocalPipeline(runs, sampled, features=FeatureConfig.default())
        stop = asyncio.Event()
        task = asyncio.create_task(pipeline.run(stop))

        async def count() -> tuple[int, int]:
            return pipeline.stats.stored, pipeline.stats.commits

        async def take() -> list[int]:
            return sampled.sampler.take()

        result = await measure_window("local", Probe(count, take, pids), args)
        stop.set()
        await task
    result.reconnects = sum(c.stats.reconnects for c in pipeline.connections.values())
    return result


Beside = Callable[[Supervisor, dict[str, int]], contextlib.AbstractAsyncContextManager]
"""Something to run beside the collector during a round (an alert actor); it adds its pids."""


async def ray_round(
    runs: list[VenueRun], data_dir: str, pids: dict[str, int], args, beside: Beside | None = None
) -> Round:
    supervisor = SampledSupervisor(runs, data_dir)
    await supervisor.start()
    stop = asyncio.Event()
    watcher = asyncio.create_task(supervisor.watch(stop))
    writer = supervisor.children["writer"].handle
    for name, child in supervisor.children.items():
        pids[name] = await _as_future(child.handle.pid.remote())
    nice = os.getpriority(os.PRIO_PROCESS, pids["writer"])

    async def count() -> tuple[int, int]:
        stats = await _as_future(writer.ping.remote())
        return stats["stored"], stats["commits"]

    async def take() -> list[int]:
        return await _as_future(writer.take_latencies.remote())

    try:
        async with beside(supervisor, pids) if beside else contextlib.nullcontext():
            result = await measure_window("ray", Probe(count, take, pids), args)
    finally:
        stop.set()
        await watcher
        status = supervisor.status()
        await supervisor.stop()
    result.reconnects = sum(row.get("reconnects", 0) for row in status.values())
    result.actor_nice = nice
    return result


async def traced_round(runs: list[VenueRun], data_dir: str, pids: dict[str, int], args) -> Round:
    """The Ray round with tracing on at the default sampling, spans written to a file."""
    os.environ[TRACES_FILE_ENV] = str(Path(data_dir) / "spans.jsonl")
    try:
        result = await ray_round(runs, data_dir, pids, args)
    finally:
        del os.environ[TRACES_FILE_ENV]
    result.mode = "traced"
    return result


RUNNERS = {"local": local_round, "ray": ray_round, "traced": traced_round}


def round_line(index: int, result: Round) -> str:
    cores = ", ".join(f"{role} {used:.2f}" for role, used in result.cores.items())
    return (
        f"  round {index + 1} {result.mode:5s}: {result.events_per_s:9,.0f} stored ev/s, "
        f"{result.fsyncs_per_s:,.0f} appends+fsyncs/s, "
        f"p50 {ms(percentile(result.latencies_ns, 50))} ms, reconnects {result.reconnects}; "
        f"cores used: {cores}"
    )


async def throughput(load: Load, args, base: Path) -> list[Round]:
    """Alternate local and Ray rounds (each on a fresh simulator and store)."""
    rounds = []
    modes = ("local", "ray", "traced") if args.tracing else ("local", "ray")
    for index in range(args.pairs):
        order = modes if index % 2 == 0 else modes[::-1]
        for mode in order:
            sim = load.simulator(seed=index + 1)
            with simulator_process(sim) as (urls, sim_pid):
                runs = venue_runs(load, urls, sim)
                runner = RUNNERS[mode]
                pids = {"simulator": sim_pid, "driver": os.getpid()}
                result = await runner(runs, str(base / f"{mode}{index}"), pids, args)
            print(round_line(index, result), flush=True)
            rounds.append(result)
    return rounds


# -- recovery after SIGKILL of a provider ------------------------------------------------------


@dataclass
class Recovery:
    noticed_s: float
    restarted_s: float
    streaming_s: float


async def streaming(child: Child, before: int = -1) -> int:
    """Messages of a streaming provider once they exceed `before`; -1 while not (yet)."""
    with contextlib.suppress(ray.exceptions.RayActorError, asyncio.TimeoutError):
        ping = await asyncio.wait_for(_as_future(child.handle.ping.remote()), 1.0)
        if ping["phase"] == "streaming" and ping["messages"] > max(before, 0):
            return ping["messages"]
    return -1


async def kill_once(child: Child) -> Recovery:
    first = await streaming(child)
    await wait_until(
        lambda: _grew(child, first), 30, f"{child.name} streaming before the kill", POLL_S
    )
    restarts = child.tracker.total
    os.kill(await _as_future(child.handle.pid.remote()), signal.SIGKILL)
    killed = time.monotonic()

    async def noticed() -> bool:
        return child.tracker.total > restarts

    async def restarted() -> bool:
        return child.state is ChildState.RUNNING and child.tracker.total > restarts

    await wait_until(noticed, 30, f"the supervisor to notice the {child.name} kill", POLL_S)
    noticed_s = time.monotonic() - killed
    await wait_until(restarted, 30, f"{child.name} restarted", POLL_S)
    restarted_s = time.monotonic() - killed
    seen = -1

    async def flowing() -> bool:
        nonlocal seen
        previous, seen = seen, await streaming(child, seen)
        return previous > 0 and seen > previous

    await wait_until(flowing, 30, f"{child.name} streaming again", POLL_S)
    return Recovery(noticed_s, restarted_s, time.monotonic() - killed)


async def _grew(child: Child, before: int) -> bool:
    return await streaming(child, before) > 0


@dataclass
class KillRun:
    recoveries: list[Recovery]
    status: dict[str, dict]
    resume_lookup_s: float
    """One writer.last_trades() call, as each provider restart makes, at the end of the run."""
    stored: int


async def resume_lookup(supervisor: Supervisor, venue: str) -> tuple[float, int]:
    """Seconds one resume lookup takes on the store as it is now, and the events stored."""
    writer = supervisor.children["writer"].handle
    start = time.monotonic()
    await _as_future(writer.last_trades.remote(venue))
    took = time.monotonic() - start
    return took, (await _as_future(writer.ping.remote()))["stored"]


async def recoveries(load: Load, args, base: Path) -> KillRun:
    sim = load.simulator(seed=99)
    with simulator_process(sim) as (urls, _pid):
        runs = venue_runs(load, urls, sim)
        supervisor = Supervisor(runs, str(base / "kills"), policy=KILL_POLICY, standby=True)
        await supervisor.start()
        stop = asyncio.Event()
        watcher = asyncio.create_task(supervisor.watch(stop))
        providers = [c for c in supervisor.children.values() if c.kind == "provider"]
        try:
            results = [await kill_once(providers[i % len(providers)]) for i in range(args.kills)]
            lookup_s, stored = await resume_lookup(supervisor, load.venues[0])
        finally:
            stop.set()
            await watcher
            status = supervisor.status()
            await supervisor.stop()
    return KillRun(results, status, lookup_s, stored)


# -- report ------------------------------------------------------------------------------------


def percentile(values: list[float], pct: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1)))]


def ms(ns: float) -> str:
    return f"{ns / 1e6:,.1f}"


def pipeline_cores(result: Round) -> float:
    """Cores used by the collector's own processes (driver and actors, not the simulator)."""
    return sum(v for k, v in result.cores.items() if k not in ("simulator", "machine"))


ROUND_METRICS: dict[str, Callable[[Round], float]] = {
    "commits (one fsync per file each) per s": lambda r: r.fsyncs_per_s,
    "events per fsync": lambda r: r.events_per_s / max(r.fsyncs_per_s, 1e-9),
    "cores used by the collector's processes": pipeline_cores,
    "cores used by the simulator process": lambda r: r.cores.get("simulator", 0.0),
    "machine busy cores (all processes, other users too)": lambda r: r.cores["machine"],
    "reconnects during the round": lambda r: r.reconnects,
}


def median_row(label: str, ray_value: float, local_value: float, unit: str = ",.2f") -> str:
    ratio = ray_value / local_value if local_value else float("nan")
    return f"| {label} | {ray_value:{unit}} | {local_value:{unit}} | {ratio:.2f}x |"


def throughput_rows(rounds: list[Round]) -> list[str]:
    by_mode = {m: [r for r in rounds if r.mode == m] for m in ("ray", "local")}
    pairs = zip(by_mode["local"], by_mode["ray"], strict=True)
    pair_ratios = [r.events_per_s / lo.events_per_s for lo, r in pairs]
    rate = {m: statistics.median(r.events_per_s for r in by_mode[m]) for m in by_mode}
    rows = [
        "| median over rounds | Ray actors | one process (LocalPipeline) | Ray / local |",
        "|---|---:|---:|---:|",
        f"| **stored events/s** | {rate['ray']:,.0f} | {rate['local']:,.0f} "
        f"| **{statistics.median(pair_ratios):.2f}x** (goal >= 0.5x; per pair: "
        f"{', '.join(f'{x:.2f}' for x in pair_ratios)}) |",
    ]
    for pct in (50, 99):
        lat = {m: percentile([x for r in by_mode[m] for x in r.latencies_ns], pct) for m in by_mode}
        rows.append(
            median_row(
                f"receive -> durable p{pct} (ms)", lat["ray"] / 1e6, lat["local"] / 1e6, ",.1f"
            )
        )
    for label, metric in ROUND_METRICS.items():
        value = {m: statistics.median(metric(r) for r in by_mode[m]) for m in by_mode}
        rows.append(median_row(label, value["ray"], value["local"]))
    return rows


def tracing_rows(rounds: list[Round]) -> list[str]:
    """Tracing's cost two ways: end to end (traced Ray rounds against plain ones, which on this
    shared box at saturation swings more than tracing can move it), and its own CPU per event
    measured in one process (benchmarks/tracing_cost.py) against the collector's CPU per
    stored event in the plain Ray rounds."""
    plain = [r for r in rounds if r.mode == "ray"]
    traced = [r for r in rounds if r.mode == "traced"]
    if not traced:
        return []
    ratios = [t.events_per_s / p.events_per_s for p, t in zip(plain, traced, strict=True)]
    spread = [r.events_per_s for r in plain]
    on_us, off_us = overhead_us_per_event()
    per_event_us = statistics.median(pipeline_cores(r) / r.events_per_s * 1e6 for r in plain)
    cost = (on_us - off_us) / per_event_us
    return [
        "",
        f"Tracing at the default sampling (1% of batches, spans to a file): its code path costs "
        f"{on_us - off_us:.2f} µs per event ({on_us:.2f} traced against {off_us:.2f} off, in "
        f"one process, alternating rounds), against {per_event_us:.0f} µs of collector CPU per "
        f"stored event in the plain Ray rounds: cost **{cost:.2%}** (goal < 5%). End to end, "
        f"traced rounds stored {statistics.median(t.events_per_s for t in traced):,.0f} ev/s "
        f"against {statistics.median(spread):,.0f} (traced / plain per pair: "
        f"{', '.join(f'{x:.2f}x' for x in ratios)}), within the spread of the plain Ray "
        f"rounds alone ({min(spread):,.0f}-{max(spread):,.0f} ev/s).",
    ]


def recovery_rows(results: list[Recovery]) -> list[str]:
    rows = ["| after SIGKILL of a ProviderActor (s) | p50 | p99 | max |", "|---|---:|---:|---:|"]
    for label, attr in (
        ("supervisor noticed (ping failed: Ray's part)", "noticed_s"),
        ("new provider started (+ backoff, actor start, resume lookup)", "restarted_s"),
        ("streaming again (connected, subscribed, messages increasing)", "streaming_s"),
    ):
        values = [getattr(r, attr) for r in results]
        rows.append(
            f"| {label} | {percentile(values, 50):.3f} | {percentile(values, 99):.3f} "
            f"| {max(values):.3f} |"
        )
    return rows


@dataclass
class LogCounter(logging.Handler):
    """Counts the product's warnings and errors during the run, to report them."""

    messages: Counter = field(default_factory=Counter)

    def __post_init__(self) -> None:
        super().__init__(logging.WARNING)

    def emit(self, record: logging.LogRecord) -> None:
        self.messages[f"{record.levelname} {record.name}: {record.getMessage()[:120]}"] += 1

    def __hash__(self) -> int:
        return id(self)


def write_results(section: list[str], path: Path, heading: str = RESULTS_HEADING) -> None:
    """Replace (or append) only that section of RESULTS.md."""
    text = path.read_text() if path.exists() else "# Benchmark results\n"
    lines = text.splitlines()
    start = next((i for i, ln in enumerate(lines) if ln.strip() == heading), None)
    if start is None:
        lines += ["", *section]
    else:
        end = next(
            (i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines)
        )
        lines[start:end] = [*section, ""] if end < len(lines) else section
    path.write_text("\n".join(lines).rstrip("\n") + "\n")


# -- main --------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog=(
            "Defaults: 3 interleaved pairs of 13 s rounds and 20 kills, about 4 minutes on 2 idle "
            "cores (451 s measured beside 3 other Ray clusters); --quick about 1.5-2 minutes. "
            "All traffic on 127.0.0.1; scratch stores are deleted at the end."
        ),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--quick", action="store_true", help="1 pair, short windows, 3 kills")
    parser.add_argument(
        "--venues", default="binance,coinbase,kraken,alpaca", help="comma-separated venues"
    )
    parser.add_argument("--symbols", type=int, default=6, help="symbols per venue (1-6)")
    parser.add_argument("--rate", type=float, default=500.0, help="model events/s/symbol (<=500)")
    parser.add_argument("--pairs", type=int, default=3, help="interleaved local+Ray round pairs")
    parser.add_argument("--warmup", type=float, default=5.0, help="seconds before each window")
    parser.add_argument("--window", type=float, default=8.0, help="seconds measured per round")
    parser.add_argument("--kills", type=int, default=20, help="provider SIGKILLs to time")
    parser.add_argument(
        "--tracing",
        action="store_true",
        help="also run Ray rounds with tracing on (default sampling) and print its throughput cost",
    )
    parser.add_argument("--kill-rate", type=float, default=100.0, help="rate during the kills")
    parser.add_argument(
        "--worker-niceness",
        type=int,
        default=None,
        help="nice value of Ray's worker processes (RAY_worker_niceness; Ray's default is 15)",
    )
    parser.add_argument(
        "--capacity",
        action="store_true",
        help="measure capacity with the firehose instead (benchmarks/capacity.py): saturation, "
        "CPU per stored event, latency at half load, per-stage table",
    )
    parser.add_argument(
        "--tape-seconds",
        type=float,
        default=60.0,
        help="--capacity: model seconds recorded per venue before timing (must outlast a round)",
    )
    parser.add_argument(
        "--stage-seconds", type=float, default=10.0, help="--capacity: model seconds per stage"
    )
    parser.add_argument("--dir", default=None, help="scratch directory (default: a temp dir)")
    parser.add_argument(
        "--results", action="store_true", help="write the '## pipeline' section of RESULTS.md"
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.pairs, args.warmup, args.window, args.kills = 1, 2.0, 4.0, 3
    if not 1 <= args.symbols <= 6 or not 0 < args.rate <= 500 or args.pairs < 1:
        parser.error("--symbols must be 1-6, --rate in (0, 500], --pairs >= 1")
    return args


async def run(args: argparse.Namespace, base: Path) -> list[str]:
    venues = tuple(v.strip() for v in args.venues.split(",") if v.strip())
    load = Load(venues, args.symbols, args.rate)
    started = time.monotonic()
    print(f"throughput: {load.describe()}", flush=True)
    rounds = await throughput(load, args, base)
    kill_load = replace(load, rate=args.kill_rate)
    print(f"recovery: {args.kills} SIGKILLs, {kill_load.describe()}", flush=True)
    kills = await recoveries(kill_load, args, base)
    failed = [name for name, row in kills.status.items() if row["state"] != "running"]
    return [
        RESULTS_HEADING,
        "",
        f"Command (from the repository root): `{' '.join(['.venv/bin/python', *sys.argv])}`",
        f"Load: {load.describe()}; warm-up {args.warmup:g}s, window {args.window:g}s; "
        f"latency sampled on every {SAMPLE_EVERY}th stored event; Ray actor processes at nice "
        f"{rounds[-1].actor_nice if rounds[-1].mode == 'ray' else rounds[-2].actor_nice} "
        "(driver and simulator at 0).",
        "",
        *throughput_rows(rounds),
        *tracing_rows(rounds),
        "",
        f"Recovery: {len(kills.recoveries)} kills at {kill_load.describe()}; supervisor ping every "
        f"{KILL_POLICY.ping_every_s}s, restart backoff {KILL_POLICY.backoff_initial_s}s; "
        f"children not running at the end: {failed or 'none'}.",
        "",
        *recovery_rows(kills.recoveries),
        "",
        f"One resume lookup (`writer.last_trades`, made by every provider start) took "
        f"{kills.resume_lookup_s:.3f}s with {kills.stored:,} events in the store.",
        "",
        f"Total wall {time.monotonic() - started:.0f}s on {os.cpu_count()} cores.",
    ]


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logs = LogCounter()
    logging.getLogger().addHandler(logs)
    if args.worker_niceness is not None:
        os.environ[WORKER_NICENESS_ENV] = str(args.worker_niceness)
    # In the main thread: Ray starts its processes with PR_SET_PDEATHSIG, which Linux fires when
    # the *thread* that started them ends; with ray.init in an executor thread they were SIGKILLed.
    init_ray(None, 2)
    last = ""
    with tempfile.TemporaryDirectory(dir=args.dir, prefix="mdc-bench-pipeline-") as tmp:
        if args.capacity:
            from capacity import CAPACITY_HEADING, run_capacity

            load = Load(tuple(v.strip() for v in args.venues.split(",")), args.symbols, 500.0)
            section, last = asyncio.run(run_capacity(args, Path(tmp), load))
            heading = CAPACITY_HEADING
        else:
            section, heading = asyncio.run(run(args, Path(tmp))), RESULTS_HEADING
    ray.shutdown()
    print("\n".join(section))
    print("\nproduct log lines (warning and above), by count:")
    for message, count in logs.messages.most_common(10) or [("none", 0)]:
        print(f"  {count:4d}  {message}")
    if args.results:
        write_results(section, Path(__file__).with_name("RESULTS.md"), heading)
    if last:
        print(last)
    return 0


if __name__ == "__main__":
    sys.exit(main())
