"""Alerting's cost. 1: CPU per event of the alert evaluator with the seed's four rules, against
the same events with no rules (the loop, the dispatch and the clock alone), on recorded firehose
frames of all four venues in receive-time order, as `mdc alerts replay` feeds them. 2: the
collector's stored events/s at saturation (Ray actors, firehose tapes as in `pipeline.py
--capacity`) with the alert actor following the log with those rules, against the same rounds
without it, interleaved.

Usage: .venv/bin/python benchmarks/alerts.py [--seconds S] [--rounds N] [--pairs P] [--no-collector]
Goals (issue 20): at most 2 µs per event per rule above the no-rule baseline; stored events/s
with alerting on within 5% of off.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import os
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import ray
from capacity import firehose_process, pace, ray_system_pids, runs_for
from features_cost import events
from pipeline import Load, Round, ray_round, round_line

from actors.runtime import init_ray
from actors.supervisor import _as_future
from mdc.alerts.config import load_alert_config
from mdc.alerts.evaluator import evaluate_stored
from mdc.alerts.rules import Rule, load_rules
from mdc.store.follow import Position

ROOT = Path(__file__).resolve().parents[1]
RULES = ROOT / "alerts.yaml"


def cost(rules: list[Rule], evs: list, rounds: int) -> tuple[float, int]:
    """Median µs per event over `rounds`, and the transitions of one round."""
    took, transitions = [], 0
    for _ in range(rounds):
        began = time.process_time()
        transitions = sum(1 for _ in evaluate_stored(rules, evs))
        took.append((time.process_time() - began) / len(evs) * 1e6)
    return statistics.median(took), transitions


def evaluation_cost(args: argparse.Namespace) -> None:
    evs = sorted(events(args.seconds), key=lambda e: e.ts_recv)
    kinds = Counter(type(e).__name__ for e in evs)
    print(f"events {len(evs):,}: " + ", ".join(f"{k} {n:,}" for k, n in kinds.most_common()))
    rules = load_rules(RULES)
    base, _ = cost([], evs, args.rounds)
    print(f"{'no rules (baseline)':28} {base:6.2f} µs/event")
    for rule in rules:
        alone, fired = cost([rule], evs, args.rounds)
        print(f"{rule.name:28} {alone:6.2f} µs/event  +{alone - base:5.2f}  {fired} transitions")
    both, fired = cost(rules, evs, args.rounds)
    per_rule = (both - base) / len(rules)
    print(
        f"{'the four rules':28} {both:6.2f} µs/event  ratio {both / base:.2f}x baseline; "
        f"{per_rule:.2f} µs per event per rule (goal <= 2); {fired} transitions"
    )


VENUES = ("binance", "coinbase", "kraken", "alpaca")


@functools.cache
def _alert_actor_class():
    sys.path.insert(0, str(ROOT))  # `alerts` there is the package; in benchmarks/, this file
    from alerts.actor import AlertActor

    return AlertActor


async def ready_alert_actor(data_dir: str):
    """The alert actor of `mdc run --alerts alerts.yaml` for a round's store, its process up
    before the round starts (a worker started mid-round, under saturation, took long enough to
    shorten the tapes that round measured)."""
    start = Position.of({}).to_bytes()
    actor = _alert_actor_class().remote(data_dir, load_alert_config(RULES, {}), None, start)
    await _as_future(actor.pid.remote())
    return actor


def following(actor, stats: list[dict]):
    """A `pipeline.Beside`: `actor` follows the round's log from its start; its stats at the
    end of the window go to `stats`."""

    @contextlib.asynccontextmanager
    async def beside(supervisor, pids: dict[str, int]):
        await _as_future(actor.set_writer.remote(supervisor.writer))
        await _as_future(actor.start.remote())
        pids["alerts"] = await _as_future(actor.pid.remote())
        try:
            yield
            stats.append(await _as_future(actor.stats.remote()))
            stats[-1]["stored"] = (await _as_future(supervisor.writer.ping.remote()))["stored"]
        finally:
            await _as_future(actor.stop.remote())
            ray.kill(actor)

    return beside


async def collector_rounds(args: argparse.Namespace, base: Path) -> list[tuple[str, Round]]:
    load = Load(VENUES, 6, 500.0)
    print(f"collector: {load.describe()}; recording tapes ({args.tape_seconds:g} s)", flush=True)
    rounds, stats = [], []
    with firehose_process(load, args.tape_seconds) as (tapes, firehose_pid):
        for index in range(args.pairs):
            for mode in ("off", "on") if index % 2 == 0 else ("on", "off"):
                pids = {"firehose": firehose_pid, "driver": os.getpid()} | ray_system_pids()
                pace(tapes, dict.fromkeys(load.venues, 0.0))
                data = str(base / f"{index}-{mode}")
                beside = following(await ready_alert_actor(data), stats) if mode == "on" else None
                result = await ray_round(runs_for(load, tapes), data, pids, args, beside)
                line = f"  alerting {mode:3}: {result.events_per_s:9,.0f} stored ev/s"
                if mode == "on":
                    s = stats[-1]
                    line += (
                        f"; alert actor {result.cores.get('alerts', 0):.2f} cores, "
                        f"{s['events']:,} events read of {s['stored']:,} stored, "
                        f"lag {s['lag_ns'] / 1e9:.2f} s"
                    )
                print(line, flush=True)
                if args.verbose:
                    print(round_line(index, result), flush=True)
                rounds.append((mode, result))
    return rounds


def collector_report(rounds: list[tuple[str, Round]]) -> None:
    def median(mode: str) -> float:
        return statistics.median(r.events_per_s for m, r in rounds if m == mode)

    off, on = median("off"), median("on")
    print(
        f"stored events/s at saturation, median: alerting off {off:,.0f}, on {on:,.0f}; "
        f"ratio on/off {on / off:.3f} (goal >= 0.95)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="model seconds of events")
    parser.add_argument("--rounds", type=int, default=5, help="evaluation rounds per rule set")
    parser.add_argument("--pairs", type=int, default=3, help="collector rounds on and off")
    parser.add_argument("--warmup", type=float, default=3.0, help="seconds before each window")
    parser.add_argument("--window", type=float, default=8.0, help="seconds measured per round")
    parser.add_argument("--tape-seconds", type=float, default=60.0, help="firehose model seconds")
    parser.add_argument("--no-collector", action="store_true", help="only the evaluation cost")
    parser.add_argument("--verbose", action="store_true", help="cores used by each process")
    args = parser.parse_args()
    evaluation_cost(args)
    if args.no_collector:
        return
    init_ray(None, 2)
    with tempfile.TemporaryDirectory(prefix="mdc-bench-alerts-") as tmp:
        collector_report(asyncio.run(collector_rounds(args, Path(tmp))))
    ray.shutdown()


if __name__ == "__main__":
    main()
