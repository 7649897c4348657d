"""A chaos run's report: JSON for machines, markdown and a standalone HTML page with PNG charts for
people, with the timeline of faults and recoveries and each guarantee's verdict."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from chaos.scenarios.runner import ScenarioResult
from reports.chaos import write_chaos_html

CHAOS_JSON = "chaos-report.json"
CHAOS_MD = "chaos-report.md"


def as_dict(result: ScenarioResult) -> dict[str, Any]:
    report = result.verify
    return {
        "scenario": result.scenario,
        "seed": result.seed,
        "duration_s": result.duration_s,
        "started_ns": result.started_ns,
        "ok": result.ok,
        "error": result.error,
        "wall_s": round(result.wall_s, 1),
        "timeline": [step.as_dict() for step in result.steps],
        "final_recovery_s": result.final_recovery_s,
        "invariants": [asdict(check) for check in result.checks],
        "verify": report.lines() if report else [],
        "load": result.load,
        "writer": result.writer,
        "peak_rss_mb": {name: round(mb, 1) for name, mb in result.peak_rss_mb.items()},
    }


def write(results: Sequence[ScenarioResult], out_dir: Path) -> tuple[Path, Path]:
    """`chaos-report.json` and `chaos-report.md` in out_dir, and beside them `chaos-report.html`
    with its `chaos-<scenario>-*.png` charts; returns the paths of the first two."""
    out_dir.mkdir(parents=True, exist_ok=True)
    data = [as_dict(result) for result in results]
    json_path, md_path = out_dir / CHAOS_JSON, out_dir / CHAOS_MD
    json_path.write_text(json.dumps({"scenarios": data}, indent=2) + "\n")
    md_path.write_text("\n".join(markdown(data)) + "\n")
    write_chaos_html({"scenarios": data}, out_dir)
    return json_path, md_path


def markdown(scenarios: Sequence[dict[str, Any]]) -> list[str]:
    lines = [
        "# Chaos report",
        "",
        "| scenario | seed | verdict | wall (s) |",
        "|---|---:|---|---:|",
    ]
    lines += [
        f"| {s['scenario']} | {s['seed']} | {'PASS' if s['ok'] else 'FAIL'} | {s['wall_s']} |"
        for s in scenarios
    ]
    for scenario in scenarios:
        lines += ["", *_section(scenario)]
    return lines


def _section(s: dict[str, Any]) -> list[str]:
    lines = [f"## {s['scenario']} ({'PASS' if s['ok'] else 'FAIL'})", ""]
    if s["error"]:
        lines += [f"Error: {s['error']}", ""]
    lines += ["| at (s) | fault | target | hold (s) | recovered after heal (s) | error |"]
    lines += ["|---:|---|---|---:|---:|---|"]
    for step in s["timeline"]:
        recovery = "-" if step["recovery_s"] is None else f"{step['recovery_s']:.1f}"
        lines.append(
            f"| {step['at_s']:.1f} | {step['fault']} | {step['target'] or '-'} | "
            f"{step['hold_s']:g} | {recovery} | {step['error'] or ''} |"
        )
    lines += ["", "| guarantee | result | detail |", "|---|---|---|"]
    lines += [
        f"| {check['name']} | {'ok' if check['ok'] else 'FAILED'} | {check['detail']} |"
        for check in s["invariants"]
    ]
    lines += ["", *[f"- {line}" for line in s["verify"]]]
    writer = s["writer"]
    if writer:
        lines.append(
            f"- writer (last incarnation): failures {writer.get('failures') or {}}, "
            f"DLQ by cause {writer.get('dlq_by_cause') or {}}"
        )
    return lines
