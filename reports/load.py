"""The load report's page: totals, latency percentiles per endpoint (table and bar chart),
throughput over time (line chart, when the report has Locust's per-second history) and the
errors by cause. Input is the dict `loadtests.report.as_dict` writes to report.json."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from reports import charts
from reports.fields import mapping, num, records
from reports.html import Html, note, number, percent, section, table, write_page
from reports.html import figure as image

REPORT_HTML = "report.html"
PERCENTILES_PNG = "report-percentiles.png"
THROUGHPUT_PNG = "report-throughput.png"
FILES = (REPORT_HTML, PERCENTILES_PNG, THROUGHPUT_PNG)
"""Everything this module may write, so a new run can clear the last one's."""
PERCENTILES = (("p50", "p50_ms"), ("p90", "p90_ms"), ("p95", "p95_ms"), ("p99", "p99_ms"))
LATENCIES = (*PERCENTILES, ("max", "max_ms"))


def write_load_html(report: Mapping[str, Any], out_dir: Path) -> Path:
    """report.html and its charts in out_dir; returns the page's path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    for stale in FILES:
        (out_dir / stale).unlink(missing_ok=True)
    title = str(report.get("title") or "Load report")
    blocks = [
        _totals(report),
        _percentiles(report, out_dir),
        _throughput(records(report.get("history")), out_dir),
        _errors(records(report.get("errors"))),
    ]
    return write_page(out_dir / REPORT_HTML, title, blocks)


def _totals(report: Mapping[str, Any]) -> Html:
    total = mapping(report.get("total"))
    headers = ["requests", "failures", "error rate", "req/s", *(f"{p} ms" for p, _ in LATENCIES)]
    row = [
        number(report.get("requests"), "d"),
        number(report.get("failures"), "d"),
        percent(report.get("error_rate")),
        number(report.get("rps")),
        *(number(report.get(key, total.get(key)), ".0f") for _, key in LATENCIES),
    ]
    blocks: list[object] = [table(headers, [row], numeric=range(len(headers)))]
    if not num(report.get("requests")):
        blocks.append(note("No request completed in this run, so there are no latencies."))
    return section("Totals", *blocks)


def _percentiles(report: Mapping[str, Any], out_dir: Path) -> Html:
    rows = _rows(report)
    if not rows:
        return section("Latency percentiles", note("The report lists no endpoints."))
    headers = ["endpoint", "requests", "failures", "error rate", "req/s", "avg ms"]
    headers += [f"{p} ms" for p, _ in LATENCIES]
    body = [
        [
            _label(row),
            number(row.get("requests"), "d"),
            number(row.get("failures"), "d"),
            percent(row.get("error_rate")),
            number(row.get("rps")),
            number(row.get("avg_ms")),
            *(number(row.get(key), ".0f") for _, key in LATENCIES),
        ]
        for row in rows
    ]
    blocks: list[object] = [table(headers, body, numeric=range(1, len(headers)))]
    measured = [row for row in rows if num(row.get("requests"))]
    if measured:
        charts.bar_chart(
            out_dir / PERCENTILES_PNG,
            "Latency percentiles per endpoint",
            "latency (ms)",
            [_label(row) for row in measured],
            {p: [num(row.get(key)) for row in measured] for p, key in LATENCIES},
        )
        blocks.append(image(PERCENTILES_PNG, "Latency percentiles per endpoint, milliseconds"))
    else:
        blocks.append(note("No endpoint completed a request, so there is no percentile chart."))
    return section("Latency percentiles", *blocks)


def _rows(report: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The endpoints, then the aggregate row when the report has one."""
    total = report.get("total")
    return records(report.get("endpoints")) + records([total] if total else [])


def _throughput(history: list[Mapping[str, Any]], out_dir: Path) -> Html:
    if not history:
        return section(
            "Throughput over time",
            note("This report has no per-second history, so there is no throughput chart."),
        )
    xs = tuple(num(bucket.get("t_s")) or 0.0 for bucket in history)
    charts.line_chart(
        out_dir / THROUGHPUT_PNG,
        "Throughput over time",
        "time since the load started (s)",
        "requests per second (1/s)",
        [
            charts.Series("requests/s", xs, tuple(num(b.get("rps")) for b in history)),
            charts.Series("failures/s", xs, tuple(num(b.get("failures_per_s")) for b in history)),
        ],
    )
    caption = "Requests and failures completed per second, from Locust's stats history"
    return section("Throughput over time", image(THROUGHPUT_PNG, caption))


def _errors(errors: list[Mapping[str, Any]]) -> Html:
    if not errors:
        return section("Errors by cause", note("No request failed."))
    rows = [[_label(e), e.get("error"), number(e.get("occurrences"), "d")] for e in errors]
    return section("Errors by cause", table(["request", "error", "occurrences"], rows, [2]))


def _label(row: Mapping[str, Any]) -> str:
    return f"{row.get('method') or ''} {row.get('name') or '?'}".strip()
