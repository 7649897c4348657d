"""Run Locust headless in a subprocess, bounded in time, and turn its CSV stats into a LoadReport.

`run_load` blocks; `start_load` returns a LoadHandle so a chaos scenario can inject faults while the
load runs and collect the report afterwards. Locust runs in its own process group so that an overrun
(duration + START_STOP_MARGIN_S) kills it and anything it started.
"""

from __future__ import annotations

import contextlib
import csv
import math
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO, Self

from loadtests.report import (
    REPORT_FILES,
    LoadReport,
    parse_history_csv,
    parse_stats_csv,
    write_reports,
)
from loadtests.workload import (
    FINAL_FAILURES_SUFFIX,
    FINAL_STATS_SUFFIX,
    HostUnreachable,
    LoadConfigError,
    LoadRunError,
    Workload,
)

LOCUST_DIR = Path(__file__).resolve().parent
SCENARIOS: dict[str, tuple[str, ...]] = {
    "predict": ("predict.py",),
    "features": ("features.py",),
    "all": ("predict.py", "features.py"),
    "stream": ("stream.py",),
}
START_STOP_MARGIN_S = 20.0
"""Locust start-up (imports, gevent) and shutdown on busy 2 cores, beyond the run time."""
KILL_GRACE_S = 5.0
CSV_PREFIX = "locust"
HISTORY_SUFFIX = "_stats_history.csv"
"""Locust appends one `Aggregated` row to it about every second: progress and throughput."""
LOG_NAME = "locust.log"


@dataclass(frozen=True)
class LoadPlan:
    """Everything one Locust run needs; checked when built so bad options fail before spawning."""

    host: str
    users: int
    duration_s: float
    out_dir: Path
    scenario: str = "predict"
    spawn_rate: float | None = None
    workload: Workload = field(default_factory=Workload)

    def __post_init__(self) -> None:
        if not self.host.startswith(("http://", "https://")):
            raise LoadConfigError(f"host {self.host!r} must start with http:// or https://")
        if self.users < 1:
            raise LoadConfigError(f"users must be >= 1, got {self.users}")
        if not self.duration_s > 0:
            raise LoadConfigError(f"duration must be > 0 s, got {self.duration_s}")
        if self.scenario not in SCENARIOS:
            raise LoadConfigError(
                f"unknown scenario {self.scenario!r}; use one of {list(SCENARIOS)}"
            )
        if self.spawn_rate is not None and not self.spawn_rate > 0:
            raise LoadConfigError(f"spawn rate must be > 0 users/s, got {self.spawn_rate}")

    @property
    def run_seconds(self) -> int:
        """Locust takes whole seconds."""
        return max(1, math.ceil(self.duration_s))

    @property
    def csv_prefix(self) -> Path:
        return self.out_dir / CSV_PREFIX

    def command(self) -> list[str]:
        files = ",".join(str(LOCUST_DIR / name) for name in SCENARIOS[self.scenario])
        rate = self.spawn_rate if self.spawn_rate is not None else float(self.users)
        return [
            sys.executable, "-m", "locust", "-f", files, "--headless",
            "-u", str(self.users), "-r", f"{rate:g}", "-t", f"{self.run_seconds}s",
            "--host", self.host.rstrip("/"), "--csv", str(self.csv_prefix), "--only-summary",
            "--exit-code-on-error", "0",
        ]  # fmt: skip

    def title(self) -> str:
        target = self.workload.grpc_target if self.scenario == "stream" else self.host
        return f"mdc load: {self.scenario}, {self.users} users, {self.run_seconds} s, {target}"


@dataclass(frozen=True)
class Progress:
    """A running test as Locust last flushed it (about once a second); zeros before it starts."""

    started: bool
    elapsed_s: float
    requests: int
    failures: int


NOT_STARTED = Progress(started=False, elapsed_s=0.0, requests=0, failures=0)


class LoadHandle:
    """A Locust run in progress: poll `progress()`, `stop()` it early, `wait()` for the report."""

    def __init__(self, plan: LoadPlan, process: subprocess.Popen, log: IO[bytes]) -> None:
        self.plan = plan
        self._process = process
        self._log = log
        self._deadline = time.monotonic() + plan.run_seconds + START_STOP_MARGIN_S

    @property
    def running(self) -> bool:
        return self._process.poll() is None

    def progress(self) -> Progress:
        """From the history file: time since Locust's first row, counts of its last complete row."""
        history = Path(f"{self.plan.csv_prefix}{HISTORY_SUFFIX}")
        try:
            with history.open(newline="") as handle:
                rows = [row for row in csv.DictReader(handle) if row.get("Name") == "Aggregated"]
            first_ts = int(rows[0]["Timestamp"])
        except (OSError, IndexError, TypeError, ValueError):
            return NOT_STARTED
        elapsed = max(0.0, time.time() - first_ts)
        for row in reversed(rows):  # the newest row may still be half-written
            try:
                counts = int(row["Total Request Count"]), int(row["Total Failure Count"])
            except (TypeError, ValueError):
                continue
            return Progress(True, elapsed, *counts)
        return Progress(True, elapsed, 0, 0)

    def stop(self) -> None:
        """Ask Locust to finish now (SIGTERM: it stops users and writes its final stats)."""
        if self.running:
            self._signal(signal.SIGTERM)

    def _signal(self, signum: int) -> None:
        """Signal Locust's process group (it may have exited between the check and the call)."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self._process.pid, signum)

    def wait(self) -> LoadReport:
        """Block until Locust exits (killed past the deadline); parse and write the reports."""
        while not self.wait_for_exit(1.0):
            pass
        return self._report()

    def wait_for_exit(self, timeout_s: float) -> bool:
        """Wait up to timeout_s for Locust to exit; True once it has. Kills it past the deadline."""
        remaining = self._deadline - time.monotonic()
        try:
            self._process.wait(timeout=max(0.0, min(timeout_s, remaining)))
        except subprocess.TimeoutExpired:
            if time.monotonic() < self._deadline:
                return False
            self._kill()
            raise LoadRunError(
                f"Locust overran {self.plan.run_seconds} s + {START_STOP_MARGIN_S:.0f} s margin "
                f"and was killed; see {self.plan.out_dir / LOG_NAME}"
            ) from None
        self._log.close()
        return True

    def _kill(self) -> None:
        self._signal(signal.SIGTERM)
        try:
            self._process.wait(timeout=KILL_GRACE_S)
        except subprocess.TimeoutExpired:
            self._signal(signal.SIGKILL)
            self._process.wait()
        self._log.close()

    def _report(self) -> LoadReport:
        code = self._process.returncode
        prefix = str(self.plan.csv_prefix)
        stats = Path(prefix + FINAL_STATS_SUFFIX)
        if code != 0 or not stats.exists():
            raise LoadRunError(f"Locust exited with status {code}: {self._log_tail()}")
        report = parse_stats_csv(stats, Path(prefix + FINAL_FAILURES_SUFFIX))
        history = Path(prefix + HISTORY_SUFFIX)
        if history.exists():
            report = replace(report, history=parse_history_csv(history))
        write_reports(report, self.plan.out_dir, self.plan.title())
        return report

    def _log_tail(self, lines: int = 5) -> str:
        text = (self.plan.out_dir / LOG_NAME).read_text(errors="replace").strip().splitlines()
        return " | ".join(text[-lines:]) or "no output"

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_: object) -> None:
        if self.running:
            self._kill()


def start_load(
    host: str,
    users: int,
    duration_s: float,
    api_key: str,
    out_dir: Path,
    *,
    scenario: str = "predict",
    spawn_rate: float | None = None,
    workload: Workload | None = None,
) -> LoadHandle:
    """Start Locust headless against `host`, return at once; the key travels in the environment."""
    if not api_key:
        raise LoadConfigError("an API key is needed: every endpoint but /healthz requires one")
    out = Path(out_dir).resolve()  # Locust runs with out_dir as its working directory
    plan = LoadPlan(host, users, duration_s, out, scenario, spawn_rate, workload or Workload())
    out.mkdir(parents=True, exist_ok=True)
    for stale in (*out.glob(f"{CSV_PREFIX}_*.csv"), *(out / name for name in REPORT_FILES)):
        stale.unlink(missing_ok=True)
    env = {**os.environ, **plan.workload.to_env(api_key)}
    env["PYTHONPATH"] = os.pathsep.join(
        filter(None, [str(LOCUST_DIR.parent), env.get("PYTHONPATH")])
    )
    log = (out / LOG_NAME).open("wb")
    try:
        process = subprocess.Popen(
            plan.command(),
            cwd=out,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    except OSError as exc:
        log.close()
        raise LoadRunError(f"cannot start Locust ({sys.executable} -m locust): {exc}") from exc
    return LoadHandle(plan, process, log)


def run_load(
    host: str,
    users: int,
    duration_s: float,
    api_key: str,
    out_dir: Path,
    *,
    scenario: str = "predict",
    spawn_rate: float | None = None,
    workload: Workload | None = None,
) -> LoadReport:
    """Run Locust for duration_s and return its report (also written as report.csv, report.md,
    report.json and report.html)."""
    with start_load(
        host,
        users,
        duration_s,
        api_key,
        out_dir,
        scenario=scenario,
        spawn_rate=spawn_rate,
        workload=workload,
    ) as handle:
        return handle.wait()


def check_grpc_health(target: str, timeout_s: float = 3.0) -> None:
    """The gRPC market data server must say SERVING, else HostUnreachable saying what to do."""
    from mdc.client import serving  # noqa: PLC0415 - grpc only for the stream scenario

    if not serving(target, timeout_s):
        raise HostUnreachable(
            f"no gRPC market data serving at {target}; start `mdc run` or pass --grpc-target"
        )


def check_health(host: str, timeout_s: float = 3.0) -> None:
    """GET /healthz must answer 200, else HostUnreachable saying how to start the server."""
    url = host.rstrip("/") + "/healthz"
    hint = "start the API with `mdc serve` or pass --host"
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as response:
            status = response.status
    except urllib.error.HTTPError as exc:
        status = exc.code
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise HostUnreachable(f"cannot reach {url} ({reason}); {hint}") from exc
    if status != 200:
        raise HostUnreachable(f"{url} answered HTTP {status}, not 200; {hint}")
