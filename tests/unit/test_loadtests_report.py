"""Locust CSV parsing and report writing, on CSVs recorded from a real run (fixtures/locust)."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from loadtests.report import (
    REPORT_CSV_COLUMNS,
    EndpointStats,
    LoadReport,
    parse_stats_csv,
    render_markdown,
    write_reports,
)
from loadtests.workload import LoadRunError

FIXTURES = Path(__file__).parents[1] / "fixtures" / "locust"
FINAL_STATS = FIXTURES / "locust_final_stats.csv"
FINAL_FAILURES = FIXTURES / "locust_final_failures.csv"
FEATURES_ROW = "/v1/features/{venue}/{symbol}"


@pytest.fixture
def report() -> LoadReport:
    return parse_stats_csv(FINAL_STATS, FINAL_FAILURES)


def test_totals_come_from_the_aggregated_row(report: LoadReport) -> None:
    assert (report.requests, report.failures) == (211, 107)
    assert report.error_rate == pytest.approx(107 / 211)
    assert report.rps == pytest.approx(70.67819455727246)
    assert (report.p50_ms, report.p95_ms, report.p99_ms) == (3.0, 17.0, 30.0)


def test_each_request_name_is_one_endpoint_row(report: LoadReport) -> None:
    assert [(row.method, row.name) for row in report.endpoints] == [
        ("GET", FEATURES_ROW),
        ("GET", "/v1/models"),
        ("POST", "/v1/predict features"),
        ("POST", "/v1/predict venue+symbol"),
    ]
    features = report.endpoint(FEATURES_ROW)
    assert (features.requests, features.failures, features.error_rate) == (107, 107, 1.0)
    assert features.p99_ms == 30.0 and features.max_ms == pytest.approx(38.32323200003884)
    assert sum(row.requests for row in report.endpoints) == report.requests
    with pytest.raises(KeyError):
        report.endpoint("/nope")


def test_failures_are_read_without_locusts_exception_wrapper(report: LoadReport) -> None:
    assert [(e.method, e.name, e.error, e.occurrences) for e in report.errors] == [
        ("GET", FEATURES_ROW, "HTTP 500", 107)
    ]


def test_locusts_own_stats_file_has_the_same_format() -> None:
    own = parse_stats_csv(FIXTURES / "locust_stats.csv")
    assert own.requests == 211 and own.errors == ()
    assert own.endpoints == parse_stats_csv(FINAL_STATS).endpoints


def test_endpoint_without_requests_has_no_percentiles(tmp_path: Path) -> None:
    rows = FINAL_STATS.read_text().splitlines()
    header = rows[0].split(",")
    empty = ["POST", "/v1/unused", "0", "0", "0", "0", "0", "0", "0", "0.0", "0.0"]
    empty += ["N/A"] * (len(header) - len(empty))
    path = tmp_path / "stats.csv"
    path.write_text("\n".join([rows[0], ",".join(empty), *rows[1:]]) + "\n")
    row = parse_stats_csv(path).endpoint("/v1/unused")
    assert (row.p50_ms, row.p95_ms, row.p99_ms, row.error_rate) == (None, None, None, 0.0)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("Type,Name,Request Count\nGET,/x,1\n", "missing columns"),
        ("", "missing columns"),
    ],
)
def test_not_a_locust_csv_is_a_typed_error(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(LoadRunError, match=message):
        parse_stats_csv(path)


def test_missing_aggregated_row_or_bad_number_is_a_typed_error(tmp_path: Path) -> None:
    lines = FINAL_STATS.read_text().splitlines()
    no_total = tmp_path / "no_total.csv"
    no_total.write_text("\n".join(lines[:-1]) + "\n")
    with pytest.raises(LoadRunError, match="one 'Aggregated' row"):
        parse_stats_csv(no_total)
    garbled = tmp_path / "garbled.csv"
    garbled.write_text(
        "\n".join([lines[0], lines[1].replace(",107,107,", ",lots,107,"), *lines[2:]])
    )
    with pytest.raises(LoadRunError, match="bad number"):
        parse_stats_csv(garbled)
    with pytest.raises(LoadRunError, match="cannot read"):
        parse_stats_csv(tmp_path / "absent.csv")


def test_report_csv_has_one_row_per_endpoint_plus_total(report: LoadReport, tmp_path: Path) -> None:
    csv_path, md_path = write_reports(report, tmp_path, "run")
    with csv_path.open(newline="") as f:
        reader = csv.DictReader(f)
        rows = list(reader)
    assert tuple(reader.fieldnames or ()) == REPORT_CSV_COLUMNS
    assert [r["name"] for r in rows] == [e.name for e in report.endpoints] + ["Aggregated"]
    total = rows[-1]
    assert (int(total["requests"]), int(total["failures"])) == (211, 107)
    assert float(total["error_rate"]) == pytest.approx(107 / 211, abs=1e-6)
    assert float(total["avg_ms"]) == pytest.approx(5.277301175350167)
    assert md_path.read_text() == render_markdown(report, "run")


def test_markdown_table_shows_percentiles_rates_and_causes(report: LoadReport) -> None:
    text = render_markdown(report, "mdc load: all")
    assert text.startswith("## mdc load: all\n")
    assert (
        "| endpoint | requests | errors | error rate | req/s | p50 ms | p95 ms | p99 ms |" in text
    )
    assert f"| GET {FEATURES_ROW} | 107 | 107 | 100.00% | 35.8 | 3 | 17 | 30 |" in text
    assert "| **Aggregated** | 211 | 107 | 50.71% | 70.7 | 3 | 17 | 30 |" in text
    assert f"| GET {FEATURES_ROW}: HTTP 500 | 107 |" in text


def test_markdown_without_requests_or_errors() -> None:
    idle = EndpointStats("GET", "/v1/x", 0, 0, 0.0, 0.0, 0.0, None, None, None)
    report = LoadReport(0, 0, 0.0, 0.0, None, None, None, (idle,))
    text = render_markdown(report, "idle")
    assert "| GET /v1/x | 0 | 0 | 0.00% | 0.0 | - | - | - |" in text
    assert "errors by cause" not in text
