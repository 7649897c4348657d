"""Capacity of the collector, not of its source: `benchmarks/pipeline.py --capacity`.

A firehose process records every venue's connection before timing starts (firehose_tapes.py)
and replays the frames as fast as the collector reads them. For the actor runtime and for the
same cores in one process (LocalPipeline with books and live features), each round measures:
stored events/s at saturation, the collector's CPU per stored event (every collector process,
Ray's own included, from /proc), and receive-to-durable p50/p99 with the firehose paced at half
of the capacity just measured. A per-stage table times each step of the path on the same frames
in one process. The last line printed is
`collector_cpu_us_per_event=<X> ray_over_local=<R>` (X: the actor runtime's).
"""

from __future__ import annotations

import contextlib
import json
import os
import statistics
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import ray
from firehose_tapes import TapeSummary, record_tape, serve_tapes
from pipeline import (
    Load,
    Round,
    local_round,
    ms,
    percentile,
    ray_round,
    serving_process,
    sessions,
)

from actors.connection import Endpoint, VenueRun
from mdc.simulator.firehose import Tape

HALF = 0.5
CAPACITY_HEADING = "## capacity"


@dataclass
class CapacityRound:
    mode: str
    saturated: Round
    half: Round
    collector_cores: float
    firehose_cores: float
    tape_share: float
    """About how much of the tapes the saturated round read (near 1: source-bound)."""


def firehose_process(load: Load, model_seconds: float) -> contextlib.AbstractContextManager:
    """The firehose serving recorded tapes in a child process: their summaries and its pid."""
    args = (sessions(load, load.simulator(seed=1)), load.simulator(seed=1), model_seconds)
    return serving_process(serve_tapes, *args, timeout_s=600)


def pace(tapes: list[TapeSummary], frames_per_s: dict[str, float]) -> None:
    """0 for a venue: as fast as the collector reads."""
    for t in tapes:
        _get_json(f"{t.http}/_firehose?frames_per_s={frames_per_s[t.venue]:.3f}", post=True)


def _get_json(url: str, post: bool = False) -> dict:
    request = urllib.request.Request(url, method="POST" if post else "GET")
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def ray_system_pids() -> dict[str, int]:
    """Ray's own processes of this session (raylet, GCS...): actor calls cost CPU there too."""
    node = ray._private.worker._global_node
    pids = {}
    for name, infos in node.all_processes.items():
        for i, info in enumerate(infos):
            pids[f"ray:{name}:{i}"] = info.process.pid
    return pids


def runs_for(load: Load, tapes: list[TapeSummary]) -> list[VenueRun]:
    by_venue = {t.venue: t for t in tapes}
    return [
        VenueRun(name, session, Endpoint(by_venue[name].ws_base, by_venue[name].http))
        for name, session in sessions(load, load.simulator(seed=1)).items()
    ]


@dataclass(frozen=True)
class Firehose:
    tapes: list[TapeSummary]
    pid: int


async def one_mode(mode: str, load: Load, firehose: Firehose, base: Path, args) -> CapacityRound:
    """Saturation, then half of it, each on a fresh store and fresh connections."""
    runner = {"local": local_round, "ray": ray_round}[mode]
    tapes = firehose.tapes
    pids = {"firehose": firehose.pid, "driver": os.getpid()}
    if mode == "ray":
        pids |= ray_system_pids()
    runs = runs_for(load, tapes)
    pace(tapes, dict.fromkeys(load.venues, 0.0))
    saturated = await runner(runs, str(base / f"{mode}-sat"), dict(pids), args)
    pace(tapes, half_load(tapes, saturated.events_per_s))
    half = await runner(runs, str(base / f"{mode}-half"), dict(pids), args)
    collector = sum(
        used for role, used in saturated.cores.items() if role not in ("firehose", "machine")
    )
    consumed = saturated.events_per_s * (args.warmup + args.window)
    share = consumed / sum(t.model_events for t in tapes)
    return CapacityRound(
        mode, saturated, half, collector, saturated.cores.get("firehose", 0.0), share
    )


def half_load(tapes: list[TapeSummary], stored_per_s: float) -> dict[str, float]:
    """Frames/s per venue for half the stored events/s, shared equally by the venues (each
    tape holds the same model time; its frames per model event differ by venue)."""
    per_venue = HALF * stored_per_s / len(tapes)
    return {t.venue: per_venue * t.frames / t.model_events for t in tapes}


def us_per_event(r: CapacityRound) -> float:
    return r.collector_cores / max(r.saturated.events_per_s, 1e-9) * 1e6


def report(rounds: list[CapacityRound], stages: list[tuple[str, float]]) -> list[str]:
    by = {m: [r for r in rounds if r.mode == m] for m in ("ray", "local")}

    def med(mode: str, f) -> float:
        return statistics.median(f(r) for r in by[mode])

    def lat(mode: str, pct: float) -> float:
        return percentile([x for r in by[mode] for x in r.half.latencies_ns], pct)

    rows = [
        "| median over rounds | Ray actors | one process | Ray / local |",
        "|---|---:|---:|---:|",
    ]
    metrics = [
        ("**stored events/s at saturation**", lambda r: r.saturated.events_per_s, ",.0f"),
        ("**collector CPU µs per stored event**", us_per_event, ",.1f"),
        ("collector cores at saturation", lambda r: r.collector_cores, ".2f"),
        ("firehose cores at saturation", lambda r: r.firehose_cores, ".2f"),
        ("share of the tapes read at saturation (about)", lambda r: r.tape_share, ".2f"),
        ("stored events/s at half load", lambda r: r.half.events_per_s, ",.0f"),
    ]
    for label, f, fmt in metrics:
        ray_v, local_v = med("ray", f), med("local", f)
        ratio = ray_v / local_v if local_v else float("nan")
        rows.append(f"| {label} | {ray_v:{fmt}} | {local_v:{fmt}} | {ratio:.2f}x |")
    for pct in (50, 99):
        ray_v, local_v = lat("ray", pct), lat("local", pct)
        rows.append(
            f"| receive -> durable p{pct} at half load (ms) | {ms(ray_v)} | {ms(local_v)} "
            f"| {ray_v / local_v:.2f}x |"
        )
    rows += ["", "| stage (one process, same frames) | µs per stored event |", "|---|---:|"]
    rows += [f"| {name} | {value:.2f} |" for name, value in stages]
    return rows


def stage_tapes(load: Load, model_seconds: float) -> dict[str, Tape]:
    sim = load.simulator(seed=1)
    return {
        venue: record_tape(venue, session, sim, model_seconds, time.time_ns())
        for venue, session in sessions(load, load.simulator(seed=1)).items()
    }


async def run_capacity(args, base: Path, load: Load) -> tuple[list[str], str]:
    """The RESULTS.md section and the last line."""
    from stages import measure_stages

    print(f"capacity: {load.describe()}; recording tapes ({args.tape_seconds:g} s of model time)")
    with firehose_process(load, args.tape_seconds) as (tapes, fh_pid):
        for t in tapes:
            print(
                f"  {t.venue}: {t.frames:,} frames, {t.model_events:,} model events, "
                f"recorded in {t.record_s:.1f} s",
                flush=True,
            )
        rounds = []
        for index in range(args.pairs):
            for mode in ("local", "ray") if index % 2 == 0 else ("ray", "local"):
                firehose = Firehose(tapes, fh_pid)
                result = await one_mode(mode, load, firehose, base / str(index), args)
                print(
                    f"  {mode:5s}: {result.saturated.events_per_s:9,.0f} stored ev/s, "
                    f"{us_per_event(result):6.1f} µs CPU/event, half-load p99 "
                    f"{ms(percentile(result.half.latencies_ns, 99))} ms, tapes read "
                    f"{result.tape_share:.0%}",
                    flush=True,
                )
                rounds.append(result)
    print("  per-stage timing in one process ...", flush=True)
    configs = sessions(load, load.simulator(seed=1))
    stages = measure_stages(stage_tapes(load, args.stage_seconds), configs, base / "stages", rounds)
    section = [
        CAPACITY_HEADING,
        "",
        f"Command (from the repository root): `{' '.join(['.venv/bin/python', *sys.argv])}`",
        f"Load: {load.describe().split('; rate')[0]}; firehose tapes of {args.tape_seconds:g} s "
        f"of model time per venue (model rate 500 events/s/symbol), replayed from the start to "
        f"each round; warm-up {args.warmup:g} s, window {args.window:g} s; {args.pairs} "
        f"interleaved pair(s); {os.cpu_count()} cores.",
        "",
        *report(rounds, stages),
    ]
    return section, last_line(rounds)


def last_line(rounds: list[CapacityRound]) -> str:
    ray_us = statistics.median(us_per_event(r) for r in rounds if r.mode == "ray")
    ray_cap = statistics.median(r.saturated.events_per_s for r in rounds if r.mode == "ray")
    local_cap = statistics.median(r.saturated.events_per_s for r in rounds if r.mode == "local")
    return f"collector_cpu_us_per_event={ray_us:.1f} ray_over_local={ray_cap / local_cap:.2f}"
