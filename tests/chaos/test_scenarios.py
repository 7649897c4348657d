"""The short chaos suite: every scenario through `mdc chaos run` (its own Ray, Toxiproxy server,
simulator, Serve and Locust, all on loopback), then the checker shown to catch planted defects
in a real run's store."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import msgspec
import pytest

from chaos.scenarios import invariants as inv
from chaos.scenarios import scenario_names
from chaos.scenarios.region_partition import REPLICA_LINK
from mdc.events import BookDelta, Trade
from mdc.store import Store
from mdc.verify import load_truth, verify

MDC_CHAOS_RUN = (sys.executable, "-m", "mdc.cli", "chaos", "run")
DURATION_S = 16
SEED = 3


@pytest.fixture(scope="module")
def chaos_run(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("chaos")
    options = ["--scenario", "all", "--duration", str(DURATION_S), "--seed", str(SEED)]
    done = subprocess.run(
        [*MDC_CHAOS_RUN, *options, "--out", str(out), "--keep-data"],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert done.returncode == 0, _failures(out) + done.stdout[-3000:] + done.stderr[-3000:]
    return out


def _failures(out: Path) -> str:
    """The failed scenarios' errors and broken guarantees first: the output tail is cut."""
    report_file = out / "chaos-report.json"
    if not report_file.exists():
        return "no chaos-report.json\n"
    lines = []
    for scenario in json.loads(report_file.read_text())["scenarios"]:
        if not scenario["ok"]:
            lines.append(f"{scenario['scenario']} FAILED {scenario['error']}")
            broken = [c for c in scenario["invariants"] if not c["ok"]]
            lines += [f"  {c['name']}: {c['detail']}" for c in broken]
            lines += [f"  {line}" for line in scenario["verify"]]
    return "\n".join(lines) + "\n"


def test_every_scenario_keeps_every_guarantee(chaos_run):
    report = json.loads((chaos_run / "chaos-report.json").read_text())
    scenarios = {s["scenario"]: s for s in report["scenarios"]}
    assert sorted(scenarios) == scenario_names()
    for name, scenario in scenarios.items():
        assert scenario["ok"], name
        injected = [step for step in scenario["timeline"] if step["injected_at_ns"]]
        # a venue's partition adds the alerting check (provider_disconnect fires, data_gap
        # inhibited); a follower in another region adds its convergence check
        partitioned = any(
            step["fault"] == "proxy_down" and step["target"] != REPLICA_LINK for step in injected
        )
        replicated = any(step["target"] == REPLICA_LINK for step in injected)
        assert len(scenario["invariants"]) == 8 + partitioned + replicated, name
        assert all(c["ok"] for c in scenario["invariants"]), name
        assert injected, f"{name}: no fault was injected"
        assert all(step["recovery_s"] is not None for step in injected), name
        assert scenario["load"]["requests"] > 100, name
    markdown = (chaos_run / "chaos-report.md").read_text()
    assert markdown.count("| PASS |") == len(scenarios)


def test_the_same_seed_lists_the_same_schedule():
    def listing(seed: int) -> str:
        argv = [*MDC_CHAOS_RUN, "--list", "--seed", str(seed)]
        return subprocess.run(argv, capture_output=True, text=True, check=True).stdout

    assert listing(5) == listing(5)
    assert listing(5) != listing(6)


def _stored_and_truth(chaos_run: Path, scenario: str):
    data = chaos_run / scenario / "data"
    truth = load_truth(sorted((data / "truth").glob("*.jsonl")))
    stopped_ns = json.loads((data / "truth" / "run.json").read_text())["stopped_ns"]
    with Store.open(str(data), readonly=True) as store:
        events = list(store.iter_events())
    return events, truth, stopped_ns - 2_000_000_000


def _check(events, truth, end_ns) -> tuple[bool, bool]:
    report = verify(events, truth, end_ns=end_ns)
    return inv.trades_exactly_once(report).ok, inv.books_exact(report).ok


def test_the_checker_catches_planted_defects_in_a_real_run(chaos_run):
    events, truth, end_ns = _stored_and_truth(chaos_run, "provider_failure")
    assert _check(events, truth, end_ns) == (True, True)
    trades = [i for i, e in enumerate(events) if type(e) is Trade and e.ts_event < end_ns]
    middle = trades[len(trades) // 2]
    # Dedup disabled: a resent batch stored twice.
    doubled = [*events[: middle + 1], events[middle], *events[middle + 1 :]]
    assert _check(doubled, truth, end_ns)[0] is False
    # An acknowledged event lost (as with fsync skipped and a crash).
    lost = events[:middle] + events[middle + 1 :]
    assert _check(lost, truth, end_ns)[0] is False
    # Book deltas stored with a wrong size from the middle of the run on.
    start = events[middle].ts_recv
    corrupted = [_bigger_first_bid(e) if e.ts_recv >= start else e for e in events]
    assert _check(corrupted, truth, end_ns)[1] is False


def _bigger_first_bid(event):
    if type(event) is not BookDelta or not event.bids:
        return event
    (price, size), *rest = event.bids
    return msgspec.structs.replace(event, bids=((price, size + 1), *rest))


def test_the_run_wrote_its_page_and_charts_for_people(chaos_run):
    """The standalone HTML page and the PNG charts beside the JSON, kept as CI artifacts."""
    page = (chaos_run / "chaos-report.html").read_text()
    for name in scenario_names():
        timeline = chaos_run / f"chaos-{name}-timeline.png"
        assert timeline.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and timeline.name in page
    artifacts = Path(os.environ.get("MDC_TEST_ARTIFACTS", "test-artifacts")) / "chaos"
    artifacts.mkdir(parents=True, exist_ok=True)
    for produced in [*chaos_run.glob("chaos-report.*"), *chaos_run.glob("chaos-*.png")]:
        shutil.copy(produced, artifacts / produced.name)
