"""The HTML pages and PNG charts beside the chaos and load reports, built by the real writers
(`chaos.scenarios.report.write`, `loadtests.report.write_reports`) from the real result types:
every scenario, verdict and endpoint shown, hostile text escaped, every referenced PNG a real,
non-blank chart, and empty or partial reports rendered with a note instead of a crash."""

from __future__ import annotations

import json
import re
import time
from dataclasses import replace
from pathlib import Path

import pytest
from PIL import Image

from chaos.faults.base import FaultRecord
from chaos.scenarios import report as chaos_report
from chaos.scenarios.api import ApiUnderLoad
from chaos.scenarios.base import Load, Step
from chaos.scenarios.invariants import InvariantResult
from chaos.scenarios.runner import ScenarioResult, StepResult
from loadtests.report import (
    REPORT_CSV_COLUMNS,
    EndpointStats,
    LoadReport,
    parse_history_csv,
    parse_stats_csv,
    write_reports,
)
from mdc.verify import VerifyReport
from reports import charts
from reports.chaos import CHAOS_HTML, write_chaos_html
from reports.load import PERCENTILES_PNG, REPORT_HTML, THROUGHPUT_PNG, write_load_html

LOCUST = Path(__file__).parents[1] / "fixtures" / "locust"
STARTED_NS = 1_796_597_020_000_000_000
HOSTILE = "<script>alert('x')</script>"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
HISTORY_HEADER = (
    "Timestamp,User Count,Type,Name,Requests/s,Failures/s,50%,66%,75%,80%,90%,95%,98%,99%,99.9%,"
    "99.99%,100%,Total Request Count,Total Failure Count,Total Median Response Time,"
    "Total Average Response Time,Total Min Response Time,Total Max Response Time,"
    "Total Average Content Size"
)
HISTORY_ROWS = [  # Locust's `Aggregated` rows, one a second; the last one half-written
    "1796597034,0,,Aggregated,0.000000,0.000000,N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A,"
    "0,0,0,0.0,0,0,0",
    "1796597035,2,,Aggregated,0.000000,0.000000,3,4,5,5,6,9,11,11,18,18,18,136,0,3,3.89,1.81,18.1,"
    "172.8",
    "1796597036,2,,Aggregated,0.000000,0.000000,3,3,4,4,6,6,9,11,18,18,18,282,10,3,3.40,1.77,18.1,"
    "160.4",
    "1796597038,4,,Aggregated,56.000000,2.000000,3,4,4,4,6,7,9,10,18,18,18,582,30,3,3.51,1.74,18.1,"
    "157.2",
    "1796597039,4,,Aggregated,98.0000",
]


def _step(at_s: float, fault: str, target: str, injected_s: float, hold_s: float) -> StepResult:
    """A step the way the runner leaves it: injected `injected_s` after the scenario started."""
    injected = STARTED_NS + int(injected_s * 1e9)
    record = FaultRecord(fault, target, injected, injected + int(hold_s * 1e9), {"proxy": target})
    return StepResult(Step(at_s, fault, {"venue": "*"}, hold_s), record, "", hold_s / 2)


def _load_summary() -> dict:
    """What `ApiUnderLoad.summary` puts in the report, from a recorded Locust run."""
    api = ApiUnderLoad(Load(), Path("load"), 20.0, "ns")
    api.reports = [parse_stats_csv(LOCUST / "locust_final_stats.csv")] * 2
    return api.summary()


def _result(name: str, *, ok: bool = True, detail: str = "2455 of 2455 found") -> ScenarioResult:
    result = ScenarioResult(name, 3, 20.0, STARTED_NS, wall_s=41.0, final_recovery_s=1.2)
    result.steps = [
        _step(0.4, "proxy_down", "binance", 10.0, 3.0),
        _step(5.5, "proxy_latency", "kraken", 15.0, 0.5),
        StepResult(Step(12.0, "writer_kill", {}, 1.0), None, "no writer to kill"),
    ]
    result.checks = [
        InvariantResult("every published trade stored exactly once", ok, detail),
        InvariantResult("memory bounded", True, "largest peak writer 168 MB"),
    ]
    result.verify = VerifyReport(trades_expected=2455, trades_found=2455)
    result.load = _load_summary()
    result.writer = {"stored": 7936, "failures": {}, "dlq_by_state": {"pending": 0}}
    result.peak_rss_mb = {"writer": 167.9, "books:binance": 181.4}
    return result


@pytest.fixture(scope="module")
def chaos_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One real write of a report with a passing and a failing scenario."""
    out = tmp_path_factory.mktemp("chaos")
    results = [
        _result("network_partition"),
        _result("storage_failure", ok=False, detail=f"3 missing {HOSTILE}"),
    ]
    chaos_report.write(results, out)
    return out


def _page(out: Path, name: str) -> str:
    return (out / name).read_text(encoding="utf-8")


def _images(page: str) -> list[str]:
    return re.findall(r'<img src="([^"]+)"', page)


def _assert_real_chart(path: Path) -> None:
    """A PNG file of a drawn chart: signature, size, and more than one colour on it."""
    data = path.read_bytes()
    assert data.startswith(PNG_SIGNATURE), path.name
    assert len(data) > 5_000, path.name
    with Image.open(path) as image:
        width, height = image.size
        assert width == int(charts.WIDTH_IN * charts.DPI) and height >= 100, path.name
        colours = image.convert("RGB").getcolors(maxcolors=1 << 16)
    assert colours is None or len(colours) > 1, f"{path.name} is blank"


def test_chaos_page_is_written_beside_the_json_and_markdown(chaos_dir: Path) -> None:
    names = {path.name for path in chaos_dir.iterdir()}
    assert {"chaos-report.json", "chaos-report.md", CHAOS_HTML} <= names
    for scenario in ("network_partition", "storage_failure"):
        for kind in ("timeline", "recovery", "latency", "memory"):
            assert f"chaos-{scenario}-{kind}.png" in names


def test_chaos_page_shows_each_scenario_verdict_and_guarantee(chaos_dir: Path) -> None:
    page = _page(chaos_dir, CHAOS_HTML)
    data = json.loads(_page(chaos_dir, "chaos-report.json"))
    for scenario in data["scenarios"]:
        assert f'id="scenario-{scenario["scenario"]}"' in page
        for check in scenario["invariants"]:
            assert check["name"] in page
    # the passing scenario in the summary, its heading and its 2 checks; the other's held check
    assert page.count('<span class="verdict pass">PASS</span>') == 5
    # the failing scenario in the summary, its heading and its broken check
    assert page.count('<span class="verdict fail">FAIL</span>') == 3
    assert "no writer to kill" in page
    assert "This report holds no time series" in page


def test_chaos_timeline_is_relative_to_the_scenario_start(chaos_dir: Path) -> None:
    data = json.loads(_page(chaos_dir, "chaos-report.json"))
    assert data["scenarios"][0]["started_ns"] == STARTED_NS
    page = _page(chaos_dir, CHAOS_HTML)
    assert "seconds since the scenario started" in page
    cells = '<td class="num">10.0</td><td class="num">13.0</td><td class="num">1.5</td>'
    assert cells in page  # injected, healed, recovered after heal


def test_hostile_text_is_escaped(chaos_dir: Path) -> None:
    page = _page(chaos_dir, CHAOS_HTML)
    assert "<script" not in page
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in page


def test_pages_load_nothing_from_outside_their_folder(chaos_dir: Path) -> None:
    page = _page(chaos_dir, CHAOS_HTML)
    links = re.findall(r'(?:src|href)="([^"]*)"', page)
    assert links and all("/" not in link and ":" not in link for link in links)
    assert "http://" not in page and "https://" not in page


def test_every_referenced_png_exists_and_is_a_real_chart(chaos_dir: Path) -> None:
    images = _images(_page(chaos_dir, CHAOS_HTML))
    assert len(images) == 8
    for name in images:
        _assert_real_chart(chaos_dir / name)


def test_a_hostile_scenario_name_makes_a_safe_file_name(tmp_path: Path) -> None:
    name = "../<b>$x^2$</b> & co"
    data = {"scenarios": [chaos_report.as_dict(_result(name))]}
    page = write_chaos_html(data, tmp_path).read_text()
    images = _images(page)
    assert images and all(re.fullmatch(r"chaos-[A-Za-z0-9_.-]+\.png", image) for image in images)
    assert all((tmp_path / image).is_file() for image in images)
    assert "&lt;b&gt;$x^2$&lt;/b&gt; &amp; co" in page


def test_an_empty_chaos_report_says_so(tmp_path: Path) -> None:
    chaos_report.write([], tmp_path)
    page = _page(tmp_path, CHAOS_HTML)
    assert "This report holds no scenarios" in page
    assert _images(page) == []


def test_a_run_that_stopped_early_renders_with_notes(tmp_path: Path) -> None:
    """A scenario that failed before its checks (no guarantees, no load, no fault injected), and
    one from an older report with hardly any fields."""
    stopped = ScenarioResult("mixed", 1, 20.0, STARTED_NS, error="OSError: disk full")
    stopped.steps = [StepResult(Step(1.0, "proxy_down", {}, 2.0), None, "refused")]
    data = {"scenarios": [chaos_report.as_dict(stopped), {"scenario": "old"}, "junk"]}
    page = write_chaos_html(data, tmp_path).read_text()
    assert "Error: OSError: disk full" in page
    assert "No guarantee was checked" in page and "No prediction request completed" in page
    assert "n/a" in page and page.count('<span class="verdict fail">FAIL</span>') == 2
    for name in _images(page):
        _assert_real_chart(tmp_path / name)
    assert "chaos-mixed-timeline.png" in _images(page)


# ---- load ------------------------------------------------------------------------------------


@pytest.fixture
def history_csv(tmp_path: Path) -> Path:
    path = tmp_path / "locust_stats_history.csv"
    path.write_text("\n".join([HISTORY_HEADER, *HISTORY_ROWS]) + "\n")
    return path


@pytest.fixture
def load_report(history_csv: Path) -> LoadReport:
    report = parse_stats_csv(
        LOCUST / "locust_final_stats.csv", LOCUST / "locust_final_failures.csv"
    )
    return replace(report, history=parse_history_csv(history_csv))


def test_history_becomes_requests_and_failures_per_second(history_csv: Path) -> None:
    buckets = parse_history_csv(history_csv)
    assert [(b.t_s, b.users, b.requests, b.failures) for b in buckets] == [
        (1.0, 2, 136, 0),
        (2.0, 2, 146, 10),
        (4.0, 4, 300, 20),
    ]
    assert (buckets[2].rps, buckets[2].failures_per_s) == (150.0, 10.0)  # over 2 s


def test_load_reports_gain_json_and_html_and_keep_csv_columns(
    load_report: LoadReport, tmp_path: Path
) -> None:
    old_columns = ("method", "name", "requests", "failures", "rps", "avg_ms", "max_ms")
    assert REPORT_CSV_COLUMNS[:10] == (*old_columns, "p50_ms", "p95_ms", "p99_ms")
    write_reports(load_report, tmp_path, "mdc load: all")
    data = json.loads((tmp_path / "report.json").read_text())
    assert data["title"] == "mdc load: all"
    assert (data["requests"], data["failures"], data["p90_ms"]) == (211, 107, 12.0)
    assert [b["requests"] for b in data["history"]] == [136, 146, 300]
    assert data["total"]["name"] == "Aggregated" and data["total"]["max_ms"] > 0
    assert data["endpoints"][0]["error_rate"] == 1.0
    page = _page(tmp_path, REPORT_HTML)
    for row in data["endpoints"]:
        assert f"{row['method']} {row['name']}" in page
    assert "p90 ms" in page and "HTTP 500" in page and "50.71%" in page
    assert sorted(_images(page)) == sorted([PERCENTILES_PNG, THROUGHPUT_PNG])
    for name in _images(page):
        _assert_real_chart(tmp_path / name)


def test_a_load_run_without_requests_or_history_says_so(tmp_path: Path) -> None:
    idle = EndpointStats("GET", "/v1/x", 0, 0, 0.0, 0.0, 0.0, None, None, None)
    write_reports(LoadReport(0, 0, 0.0, 0.0, None, None, None, (idle,)), tmp_path, "idle")
    page = _page(tmp_path, REPORT_HTML)
    assert "No request completed in this run" in page
    assert "no per-second history" in page and "No request failed" in page
    assert _images(page) == []


def test_a_rerun_leaves_no_stale_chart(load_report: LoadReport, tmp_path: Path) -> None:
    write_reports(load_report, tmp_path, "first")
    write_reports(replace(load_report, history=()), tmp_path, "second")
    assert not (tmp_path / THROUGHPUT_PNG).exists()


def test_an_empty_load_dict_renders(tmp_path: Path) -> None:
    page = write_load_html({}, tmp_path).read_text()
    assert "The report lists no endpoints" in page and "n/a" in page


# ---- charts ----------------------------------------------------------------------------------


def test_charts_are_fast_and_the_same_for_the_same_input(tmp_path: Path) -> None:
    series = [charts.Series("req/s $x$", (1.0, 2.0, 3.0), (5.0, None, 7.0))]
    started = time.perf_counter()
    first = charts.line_chart(tmp_path / "a.png", "t $\\frac{", "s", "1/s", series).read_bytes()
    assert time.perf_counter() - started < 1.0
    second = charts.line_chart(tmp_path / "b.png", "t $\\frac{", "s", "1/s", series).read_bytes()
    assert first == second
    _assert_real_chart(tmp_path / "a.png")
