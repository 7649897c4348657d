"""`mdc chaos run`: scenarios against the live system, a report, and an exit status that says
whether every guarantee held.

Scenarios that fill a disk need a tmpfs over the data directory that the Ray workers see too, and
that must never leak to the host: the command re-executes itself once under
`unshare -m --propagation private`, so Ray starts inside that mount namespace and every mount
vanishes with it, even after a crash.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from chaos.scenarios.base import Scenario, ScenarioError

PRIVATE_MOUNTS_ENV = "MDC_CHAOS_PRIVATE_MOUNTS"
TMPFS_BYTES = 64 * 1024 * 1024
SOAK_HINT = "soak: `mdc chaos run --scenario all --duration 600` (about 12 min per scenario)"


def register_run(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "run",
        help="run fault scenarios against the live system and check its guarantees",
        description=(
            "Run chaos scenarios: live ingest from the embedded simulator through Toxiproxy "
            "proxies into the Ray actors, Locust load on the prediction API, faults on a "
            "schedule the seed fixes, then the guarantees checked against the simulator's "
            "ground truth (every trade stored once, books exact outside gaps, nothing "
            "acknowledged lost, memory bounded, prediction errors and p99 within the SLO, "
            "recovery in time). Writes chaos-report.json, chaos-report.md and chaos-report.html "
            "(a standalone page with PNG charts beside it: chaos-<scenario>-timeline.png, "
            "-recovery.png, -latency.png, -memory.png) to --out; exits 1 when a "
            "guarantee fails. Uses the Toxiproxy at $TOXIPROXY_URL if set, else its own. "
            f"{SOAK_HINT}."
        ),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument(
        "--scenario", default="all", help="a scenario name, a comma-separated list, or all"
    )
    parser.add_argument("--duration", type=float, default=30.0, help="fault phase, seconds")
    parser.add_argument("--seed", type=int, default=1, help="the same seed replays the schedule")
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help="report directory for chaos-report.json/.md/.html and chaos-<scenario>-*.png "
        "(None: chaos-reports/<UTC time>)",
    )
    parser.add_argument("--num-cpus", type=int, default=2, help="CPUs for the local Ray")
    parser.add_argument("--list", action="store_true", help="list scenarios and schedules; exit")
    parser.add_argument(
        "--keep-data", action="store_true", help="keep each scenario's data directory"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from chaos.scenarios import select

    scenarios = select(args.scenario)
    if args.duration <= 0:
        raise ScenarioError("--duration must be positive")
    schedules = {s.name: s.schedule(args.seed, args.duration) for s in scenarios}
    if args.list:
        for scenario in scenarios:
            print(f"{scenario.name}: {scenario.description}")
            for step in schedules[scenario.name]:
                print(f"  +{step.at_s:6.1f}s {step.fault} {step.params} hold {step.hold_s:g}s")
        return 0
    if any(s.private_mounts for s in scenarios) and _can_isolate_mounts():
        _reexec_with_private_mounts()
    out = args.out or Path("chaos-reports") / time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    return _run_all(scenarios, args, out.resolve())


def _run_all(scenarios: list[Scenario], args: argparse.Namespace, out: Path) -> int:
    from actors.runtime import init_ray
    from chaos.scenarios import report
    from chaos.scenarios.runner import run_scenario
    from reports.chaos import CHAOS_HTML

    init_ray(num_cpus=args.num_cpus)
    results = []
    with _toxiproxy() as url:
        for scenario in scenarios:
            work = out / scenario.name
            if (work / "data").exists():
                # A kept run's store would be judged as part of this one (its trades "wrong").
                _progress(f"{scenario.name}: removing the data a previous run kept in {work}")
                shutil.rmtree(work / "data")
            _progress(
                f"{scenario.name}: starting ({args.duration:g} s of faults, seed {args.seed})"
            )
            with _data_volume(scenario, work / "data"):
                result = run_scenario(
                    scenario,
                    duration_s=args.duration,
                    seed=args.seed,
                    work_dir=work,
                    toxiproxy_url=url,
                    progress=_progress,
                )
            verdict = "PASS" if result.ok else "FAIL"
            _progress(f"{scenario.name}: {verdict} in {result.wall_s:.0f} s")
            results.append(result)
            if not args.keep_data:
                shutil.rmtree(work / "data", ignore_errors=True)
    json_path, md_path = report.write(results, out)
    print(md_path.read_text())
    print(f"reports: {json_path} {md_path} {out / CHAOS_HTML}", file=sys.stderr)
    return 0 if all(r.ok for r in results) else 1


@contextlib.contextmanager
def _toxiproxy() -> Iterator[str]:
    """The Toxiproxy named by $TOXIPROXY_URL, else our own on a free loopback port."""
    from chaos.faults.base import TOXIPROXY_URL_ENV
    from chaos.toxiproxy import start_in_thread

    if os.environ.get(TOXIPROXY_URL_ENV):
        yield os.environ[TOXIPROXY_URL_ENV]
        return
    with start_in_thread(seed=0) as server:
        yield server.url


@contextlib.contextmanager
def _data_volume(scenario: Scenario, data_dir: Path) -> Iterator[None]:
    """A tiny tmpfs over the data dir for scenarios that fill the disk (inside our private
    mount namespace when we have one)."""
    if not scenario.private_mounts or os.geteuid() != 0:
        yield
        return
    from chaos.faults.mounts import tmpfs_mounted

    with tmpfs_mounted(str(data_dir), TMPFS_BYTES):
        yield


def _can_isolate_mounts() -> bool:
    return (
        os.environ.get(PRIVATE_MOUNTS_ENV) != "1"
        and os.geteuid() == 0
        and shutil.which("unshare") is not None
    )


def _reexec_with_private_mounts() -> None:
    from chaos.faults.mounts import private_argv

    os.environ[PRIVATE_MOUNTS_ENV] = "1"
    argv = [sys.executable, "-m", "mdc.cli", *sys.argv[1:]]
    os.execvp("unshare", private_argv(argv))


def _progress(line: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {line}", file=sys.stderr, flush=True)
