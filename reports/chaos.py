"""The chaos report's page: every scenario's verdict at the top, then per scenario its timeline of
faults and recoveries (table and chart), each guarantee's verdict with its detail, the checker's
findings, the load on the prediction API, peak memory and the writer's counters.

The report holds no time series, so besides the timeline the charts show what it has per
scenario (recovery time per fault, latency per Locust run, peak memory per actor), and the page
says so. Input is the dict written to chaos-report.json (`{"scenarios": [...]}`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from reports import charts
from reports.fields import mapping, num, records
from reports.html import (
    Html,
    bullets,
    join,
    note,
    number,
    paragraph,
    percent,
    section,
    table,
    tag,
    verdict,
    write_page,
)
from reports.html import figure as image

CHAOS_HTML = "chaos-report.html"
NS_PER_S = 1e9
NO_SERIES = (
    "This report holds no time series for the scenario: besides the timeline, the charts show "
    "what it has, namely recovery time per fault, latency per Locust run and peak memory per actor."
)


def chart_file(stem: str, kind: str) -> str:
    """`chaos-<scenario>-<kind>.png`, e.g. chaos-network_partition-timeline.png."""
    return f"chaos-{stem}-{kind}.png"


def write_chaos_html(report: Mapping[str, Any], out_dir: Path) -> Path:
    """chaos-report.html and each scenario's charts in out_dir; returns the page's path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    scenarios = records(report.get("scenarios"))
    stems = file_stems([str(s.get("scenario") or "scenario") for s in scenarios])
    blocks = [_summary(scenarios, stems)]
    blocks += [_scenario(s, stem, out_dir) for s, stem in zip(scenarios, stems, strict=True)]
    return write_page(out_dir / CHAOS_HTML, "Chaos report", blocks)


def file_stems(names: Sequence[str]) -> list[str]:
    """One file-name-safe, distinct stem per scenario name (a repeated name gets -2, -3, ...)."""
    stems: list[str] = []
    for name in names:
        base = re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip("-.") or "scenario"
        stem, n = base, 1
        while stem in stems:
            n += 1
            stem = f"{base}-{n}"
        stems.append(stem)
    return stems


def _summary(scenarios: list[Mapping[str, Any]], stems: list[str]) -> Html:
    if not scenarios:
        return section("Summary", note("This report holds no scenarios: nothing was run."))
    rows = [
        [
            tag("a", s.get("scenario"), href=f"#scenario-{stem}"),
            s.get("seed"),
            verdict(s.get("ok")),
            number(s.get("wall_s")),
            len(records(s.get("timeline"))),
            _held(records(s.get("invariants"))),
        ]
        for s, stem in zip(scenarios, stems, strict=True)
    ]
    headers = ["scenario", "seed", "verdict", "wall (s)", "faults", "guarantees held"]
    return section("Summary", table(headers, rows, numeric=(1, 3, 4)))


def _held(checks: list[Mapping[str, Any]]) -> str:
    return f"{sum(c.get('ok') is True for c in checks)} of {len(checks)}"


def _scenario(s: Mapping[str, Any], stem: str, out_dir: Path) -> Html:
    name = s.get("scenario")
    facts = [
        f"seed {s.get('seed')}, fault phase {number(s.get('duration_s'), 'g')} s, "
        f"wall time {number(s.get('wall_s'))} s",
        f"recovery after the last heal: {number(s.get('final_recovery_s'))} s",
    ]
    blocks: list[object] = [bullets(facts)]
    if s.get("error"):
        blocks.insert(0, paragraph(f"Error: {s.get('error')}", cls="error"))
    blocks += [
        _guarantees(s),
        _timeline(s, stem, out_dir),
        note(NO_SERIES),
        _recovery(s, stem, out_dir),
        _load(s, stem, out_dir),
        _memory(mapping(s.get("peak_rss_mb")), stem, out_dir),
        _writer(mapping(s.get("writer"))),
    ]
    title = join((name, " ", verdict(s.get("ok"))))
    return section(title, *blocks, anchor=f"scenario-{stem}")


def _guarantees(s: Mapping[str, Any]) -> Html:
    checks = records(s.get("invariants"))
    rows = [[c.get("name"), verdict(c.get("ok")), c.get("detail")] for c in checks]
    blocks: list[object] = (
        [table(["guarantee", "verdict", "detail"], rows)]
        if rows
        else [note("No guarantee was checked: the run stopped before its checks.")]
    )
    lines = [line for line in s.get("verify") or [] if isinstance(line, str)]
    if lines:
        blocks += [tag("h4", "Checker against the simulator's ground truth"), bullets(lines)]
    return section("Guarantees", *blocks, level=3)


def _timeline(s: Mapping[str, Any], stem: str, out_dir: Path) -> Html:
    steps = records(s.get("timeline"))
    origin, clock = _origin(s, steps)
    lanes = [_lane(i, step, origin) for i, step in enumerate(steps)]
    file_name = chart_file(stem, "timeline")
    charts.timeline_chart(out_dir / file_name, f"{s.get('scenario')}: faults", clock, lanes)
    headers = ["#", "planned at (s)", "fault", "target", "params", "hold (s)", "injected (s)"]
    headers += ["healed (s)", "recovered after heal (s)", "error"]
    rows = [
        [
            i + 1,
            number(step.get("at_s")),
            step.get("fault"),
            step.get("target") or "-",
            _pairs(step.get("params")),
            number(step.get("hold_s"), "g"),
            number(lane.start_s),
            number(lane.end_s),
            number(step.get("recovery_s")),
            step.get("error") or "",
        ]
        for i, (step, lane) in enumerate(zip(steps, lanes, strict=True))
    ]
    explain = note(
        f"Injected and healed: {clock}. Planned at: seconds into the fault phase. "
        "Recovered: seconds from the heal until events were stored again."
    )
    body = table(headers, rows, numeric=(0, 1, 5, 6, 7, 8)) if rows else note("No fault steps.")
    caption = "Faults held (bars), recoveries (dots), never recovered (crosses)"
    return section("Timeline", explain, body, image(file_name, caption), level=3)


def _origin(s: Mapping[str, Any], steps: list[Mapping[str, Any]]) -> tuple[float | None, str]:
    """The clock of the timeline: the scenario's start, or the first injection for reports that
    do not record the start."""
    started = num(s.get("started_ns"))
    if started is not None:
        return started, "seconds since the scenario started (s)"
    injected = [t for t in (num(step.get("injected_at_ns")) for step in steps) if t is not None]
    return (min(injected) if injected else None), "seconds since the first fault (s)"


def _lane(i: int, step: Mapping[str, Any], origin: float | None) -> charts.Lane:
    start = _since(step.get("injected_at_ns"), origin)
    end = _since(step.get("healed_at_ns"), origin)
    recovery = num(step.get("recovery_s"))
    back = end + recovery if end is not None and recovery is not None else None
    return charts.Lane(_step_label(i, step), start, end, back)


def _since(ns: object, origin: float | None) -> float | None:
    value = num(ns)
    return None if value is None or origin is None else (value - origin) / NS_PER_S


def _step_label(i: int, step: Mapping[str, Any]) -> str:
    target = step.get("target")
    return f"{i + 1}. {step.get('fault')}" + (f" @ {target}" if target else "")


def _recovery(s: Mapping[str, Any], stem: str, out_dir: Path) -> Html:
    steps = [
        (i, step) for i, step in enumerate(records(s.get("timeline"))) if step.get("injected_at_ns")
    ]
    if not steps:
        return section("Recovery per fault", note("No fault was injected."), level=3)
    file_name = chart_file(stem, "recovery")
    charts.bar_chart(
        out_dir / file_name,
        f"{s.get('scenario')}: recovery after each heal",
        "time to recover (s)",
        [_step_label(i, step) for i, step in steps],
        {"recovery": [num(step.get("recovery_s")) for _, step in steps]},
    )
    caption = "Seconds from each heal until events were stored again (n/a: never recovered)"
    return section("Recovery per fault", image(file_name, caption), level=3)


def _load(s: Mapping[str, Any], stem: str, out_dir: Path) -> Html:
    title = "Load on the prediction API"
    load = mapping(s.get("load"))
    if not num(load.get("requests")):
        return section(title, note("No prediction request completed."), level=3)
    total = [
        number(load.get("requests"), "d"),
        number(load.get("failures"), "d"),
        percent(load.get("error_rate")),
        number(load.get("rps")),
        number(load.get("p50_ms"), ".0f"),
        number(load.get("p99_ms"), ".0f"),
    ]
    headers = ["requests", "failures", "error rate", "req/s", "p50 ms", "p99 ms"]
    blocks: list[object] = [table(headers, [total], numeric=range(6))]
    runs = records(load.get("runs"))
    if runs:
        blocks += _runs(runs, f"{s.get('scenario')}: latency per Locust run", stem, out_dir)
    return section(title, *blocks, level=3)


def _runs(runs: list[Mapping[str, Any]], title: str, stem: str, out_dir: Path) -> list[object]:
    """Each Locust run (the steady users, then any spike) as a row and as a bar group."""
    labels = [f"run {i + 1}" for i in range(len(runs))]
    keys = (("p50", "p50_ms"), ("p95", "p95_ms"), ("p99", "p99_ms"))
    rows = [
        [
            label,
            number(r.get("requests"), "d"),
            number(r.get("failures"), "d"),
            number(r.get("rps")),
        ]
        + [number(r.get(key), ".0f") for _, key in keys]
        for label, r in zip(labels, runs, strict=True)
    ]
    headers = ["Locust run", "requests", "failures", "req/s", "p50 ms", "p95 ms", "p99 ms"]
    file_name = chart_file(stem, "latency")
    charts.bar_chart(
        out_dir / file_name,
        title,
        "latency (ms)",
        labels,
        {p: [num(r.get(key)) for r in runs] for p, key in keys},
    )
    caption = "Latency percentiles per Locust run, milliseconds (run 1: steady users)"
    return [table(headers, rows, numeric=range(1, 7)), image(file_name, caption)]


def _memory(peaks: Mapping[str, Any], stem: str, out_dir: Path) -> Html:
    if not peaks:
        return section("Peak memory", note("No actor memory was sampled."), level=3)
    names = sorted(peaks)
    rows = [[name, number(peaks[name])] for name in names]
    file_name = chart_file(stem, "memory")
    charts.bar_chart(
        out_dir / file_name,
        "Peak resident memory per actor",
        "peak RSS (MB)",
        names,
        {"peak RSS": [num(peaks[name]) for name in names]},
    )
    blocks = [table(["actor", "peak RSS (MB)"], rows, numeric=(1,)), image(file_name, "Peak RSS")]
    return section("Peak memory", *blocks, level=3)


def _writer(writer: Mapping[str, Any]) -> Html:
    title = "Writer (last incarnation)"
    if not writer:
        return section(title, note("The report has no writer counters."), level=3)
    rows = [
        [key, _pairs(value) if isinstance(value, Mapping) else value]
        for key, value in writer.items()
    ]
    return section(title, table(["counter", "value"], rows), level=3)


def _pairs(value: object) -> str:
    """`{"a": 1, "b": 2}` as `a=1, b=2`; an empty or missing mapping as `-`."""
    if not isinstance(value, Mapping) or not value:
        return "-"
    return ", ".join(f"{key}={item}" for key, item in value.items())
