"""Locust CSV stats in, LoadReport out; LoadReport to report.csv, a markdown table, report.json
and a standalone report.html with its charts.

Parses the `--csv` format of Locust 2.x (`Type,Name,Request Count,...,50%,...,99%,...`), whose last
row is the `Aggregated` total. Percentiles are whole milliseconds as Locust rounds them; `N/A` (an
endpoint with no requests) becomes None. Locust's `_stats_history.csv` (one `Aggregated` row about
every second) becomes per-second buckets of requests and failures, for throughput over time.
"""

from __future__ import annotations

import csv
import itertools
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any, NamedTuple

from loadtests.workload import LoadRunError
from reports.load import REPORT_HTML, write_load_html

AGGREGATED = "Aggregated"
STATS_COLUMNS = (
    "Type",
    "Name",
    "Request Count",
    "Failure Count",
    "Average Response Time",
    "Max Response Time",
    "Requests/s",
    "50%",
    "95%",
    "99%",
)
FAILURE_COLUMNS = ("Method", "Name", "Error", "Occurrences")
HISTORY_COLUMNS = ("Timestamp", "User Count", "Type", "Name", "Total Request Count")
HISTORY_FAILURES = "Total Failure Count"
_LOCUST_WRAPPER = re.compile(r"^CatchResponseError\((['\"])(?P<message>.*)\1\)$")
REPORT_CSV = "report.csv"
REPORT_MD = "report.md"
REPORT_JSON = "report.json"
REPORT_FILES = (REPORT_CSV, REPORT_MD, REPORT_JSON, REPORT_HTML)


@dataclass(frozen=True)
class EndpointStats:
    """One row of Locust's stats: a request name (Locust groups by the `name=` it was sent with)."""

    method: str
    name: str
    requests: int
    failures: int
    rps: float
    avg_ms: float
    max_ms: float
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None
    p90_ms: float | None = None

    @property
    def error_rate(self) -> float:
        return self.failures / self.requests if self.requests else 0.0


@dataclass(frozen=True)
class FailureStats:
    """Locust's failure table: how often one error happened on one request name."""

    method: str
    name: str
    error: str
    occurrences: int


@dataclass(frozen=True)
class Bucket:
    """Requests and failures completed in one interval of Locust's stats history (about a
    second), ending `t_s` seconds after its first row; rates are per second of the interval."""

    t_s: float
    users: int
    requests: int
    failures: int
    rps: float
    failures_per_s: float


@dataclass(frozen=True)
class LoadReport:
    """Totals of a run (Locust counts a failed request in `requests` too) plus per-endpoint rows."""

    requests: int
    failures: int
    error_rate: float
    rps: float
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None
    endpoints: tuple[EndpointStats, ...]
    errors: tuple[FailureStats, ...] = ()
    p90_ms: float | None = None
    history: tuple[Bucket, ...] = ()
    """Throughput over time; empty when the run left no stats history."""

    def endpoint(self, name: str) -> EndpointStats:
        """The row for one request name; KeyError if the run never sent it."""
        for row in self.endpoints:
            if row.name == name:
                return row
        raise KeyError(name)


def parse_stats_csv(stats_path: Path, failures_path: Path | None = None) -> LoadReport:
    """Read a Locust `*_stats.csv` (and optionally its `*_failures.csv`) into a LoadReport."""
    rows = _read_rows(stats_path, STATS_COLUMNS)
    totals = [row for row in rows if row["Name"] == AGGREGATED and not row["Type"]]
    if len(totals) != 1:
        raise LoadRunError(f"{stats_path}: expected one {AGGREGATED!r} row, found {len(totals)}")
    total = _endpoint(totals[0], stats_path)
    errors = _failures(failures_path) if failures_path and failures_path.exists() else ()
    return LoadReport(
        requests=total.requests,
        failures=total.failures,
        error_rate=total.error_rate,
        rps=total.rps,
        p50_ms=total.p50_ms,
        p95_ms=total.p95_ms,
        p99_ms=total.p99_ms,
        endpoints=tuple(_endpoint(row, stats_path) for row in rows if row is not totals[0]),
        errors=errors,
        p90_ms=total.p90_ms,
    )


def _read_rows(path: Path, required: Iterable[str]) -> list[dict[str, str]]:
    try:
        with path.open(newline="") as handle:
            reader = csv.DictReader(handle)
            rows = list(reader)
            header = reader.fieldnames or []
    except OSError as exc:
        raise LoadRunError(f"cannot read Locust stats {path}: {exc.strerror or exc}") from exc
    missing = [column for column in required if column not in header]
    if missing:
        raise LoadRunError(f"{path}: not a Locust stats CSV, missing columns {missing}")
    return rows


def _endpoint(row: Mapping[str, str], path: Path) -> EndpointStats:
    try:
        return EndpointStats(
            method=row["Type"],
            name=row["Name"],
            requests=int(row["Request Count"]),
            failures=int(row["Failure Count"]),
            rps=float(row["Requests/s"]),
            avg_ms=float(row["Average Response Time"]),
            max_ms=float(row["Max Response Time"]),
            p50_ms=_percentile(row["50%"]),
            p95_ms=_percentile(row["95%"]),
            p99_ms=_percentile(row["99%"]),
            p90_ms=_percentile(row.get("90%") or "N/A"),
        )
    except (TypeError, ValueError) as exc:
        raise LoadRunError(f"{path}: bad number in row {row.get('Name')!r}: {exc}") from exc


def _percentile(text: str) -> float | None:
    return None if text == "N/A" else float(text)


def parse_history_csv(path: Path) -> tuple[Bucket, ...]:
    """Locust's `*_stats_history.csv`: one bucket per pair of consecutive `Aggregated` rows (the
    last row of a second when it has several); a half-written last row is skipped."""
    points: dict[int, _HistoryRow] = {}
    for row in _read_rows(path, HISTORY_COLUMNS):
        if row["Name"] != AGGREGATED or row["Type"]:
            continue
        try:
            points[int(row["Timestamp"])] = _HistoryRow(
                int(row["User Count"]),
                int(row["Total Request Count"]),
                int(row.get(HISTORY_FAILURES) or 0),
            )
        except (TypeError, ValueError):
            continue
    times = sorted(points)
    return tuple(
        _bucket(end - times[0], end - start, points[start], points[end])
        for start, end in itertools.pairwise(times)
    )


class _HistoryRow(NamedTuple):
    users: int
    requests: int
    failures: int


def _bucket(t_s: int, seconds: int, before: _HistoryRow, after: _HistoryRow) -> Bucket:
    requests = _grown(before.requests, after.requests)
    failures = _grown(before.failures, after.failures)
    return Bucket(
        float(t_s), after.users, requests, failures, requests / seconds, failures / seconds
    )


def _grown(before: int, after: int) -> int:
    """What a running total added; one that went down was reset by Locust and counts from 0."""
    return after - before if after >= before else after


def _failures(path: Path) -> tuple[FailureStats, ...]:
    rows = _read_rows(path, FAILURE_COLUMNS)
    try:
        return tuple(
            FailureStats(
                row["Method"], row["Name"], _error_text(row["Error"]), int(row["Occurrences"])
            )
            for row in rows
        )
    except ValueError as exc:
        raise LoadRunError(f"{path}: bad occurrence count: {exc}") from exc


def _error_text(locust_error: str) -> str:
    """Our own failure messages without the `CatchResponseError('...')` wrapper Locust records."""
    match = _LOCUST_WRAPPER.match(locust_error)
    return match["message"] if match else locust_error


def _total_row(report: LoadReport) -> EndpointStats:
    """The aggregate as a row, so report.csv and the markdown table treat it like any endpoint."""
    return EndpointStats(
        method="",
        name=AGGREGATED,
        requests=report.requests,
        failures=report.failures,
        rps=report.rps,
        avg_ms=_weighted_avg(report.endpoints),
        max_ms=max((row.max_ms for row in report.endpoints), default=0.0),
        p50_ms=report.p50_ms,
        p95_ms=report.p95_ms,
        p99_ms=report.p99_ms,
        p90_ms=report.p90_ms,
    )


def _weighted_avg(rows: Iterable[EndpointStats]) -> float:
    rows = list(rows)
    count = sum(row.requests for row in rows)
    return sum(row.avg_ms * row.requests for row in rows) / count if count else 0.0


REPORT_CSV_COLUMNS = (*(f.name for f in fields(EndpointStats)), "error_rate")


def write_report_csv(report: LoadReport, path: Path) -> Path:
    """One row per endpoint plus the `Aggregated` row, columns as in REPORT_CSV_COLUMNS."""
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=REPORT_CSV_COLUMNS)
        writer.writeheader()
        for row in (*report.endpoints, _total_row(report)):
            writer.writerow({**asdict(row), "error_rate": f"{row.error_rate:.6f}"})
    return path


def render_markdown(report: LoadReport, title: str) -> str:
    """A markdown table (p50/p95/p99, requests/s, errors) and the failure reasons, if any."""
    lines = [
        f"## {title}",
        "",
        "| endpoint | requests | errors | error rate | req/s | p50 ms | p95 ms | p99 ms |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in (*report.endpoints, _total_row(report)):
        label = f"{row.method} {row.name}".strip()
        if row.name == AGGREGATED:
            label = f"**{label}**"
        lines.append(
            f"| {label} | {row.requests} | {row.failures} | {row.error_rate:.2%} | {row.rps:.1f} "
            f"| {_ms(row.p50_ms)} | {_ms(row.p95_ms)} | {_ms(row.p99_ms)} |"
        )
    if report.errors:
        lines += ["", "| errors by cause | occurrences |", "|---|---:|"]
        lines += [f"| {e.method} {e.name}: {e.error} | {e.occurrences} |" for e in report.errors]
    return "\n".join(lines) + "\n"


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}"


def as_dict(report: LoadReport, title: str) -> dict[str, Any]:
    """report.json: the LoadReport's fields, plus its title, each row's error rate and the
    `Aggregated` row as `total` (with the max and average over all endpoints)."""
    return {
        "title": title,
        **asdict(report),
        "endpoints": [_row_dict(row) for row in report.endpoints],
        "total": _row_dict(_total_row(report)),
    }


def _row_dict(row: EndpointStats) -> dict[str, Any]:
    return {**asdict(row), "error_rate": row.error_rate}


def write_reports(report: LoadReport, out_dir: Path, title: str) -> tuple[Path, Path]:
    """report.csv and report.md in out_dir, and beside them report.json and report.html with its
    PNG charts; returns the paths of the first two."""
    csv_path = write_report_csv(report, out_dir / REPORT_CSV)
    md_path = out_dir / REPORT_MD
    md_path.write_text(render_markdown(report, title))
    data = as_dict(report, title)
    (out_dir / REPORT_JSON).write_text(json.dumps(data, indent=2) + "\n")
    write_load_html(data, out_dir)
    return csv_path, md_path
