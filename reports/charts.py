"""PNG charts for the report pages: matplotlib's object API on the Agg canvas, never pyplot, so
there is no global figure state and no GUI backend to pick; one size and one style, so the same
report gives the same picture.

Names from reports (scenarios, faults, endpoints) are drawn literally: mathtext is off for every
text, so a `$` in a name cannot break the rendering.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

WIDTH_IN = 8.0
HEIGHT_IN = 3.6
DPI = 100
COLORS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#17becf")
FAULT_COLOR = "#e4572e"
RECOVERED_COLOR = "#2a9d3a"
NEVER_COLOR = "#8a1111"
LEGEND = {"loc": "upper left", "bbox_to_anchor": (1.01, 1.0), "fontsize": 8}
"""Beside the plot, where it hides no bar or line."""
LONG_LABEL = 12
"""Category labels longer than this are slanted so they do not overlap."""


@dataclass(frozen=True)
class Series:
    """One line: `ys[i]` at `xs[i]`; None leaves a gap."""

    label: str
    xs: tuple[float, ...]
    ys: tuple[float | None, ...]


@dataclass(frozen=True)
class Lane:
    """One fault on a timeline: held from `start_s` to `end_s`, the system back at `recovered_s`
    (seconds on the chart's clock); None for what never happened."""

    label: str
    start_s: float | None
    end_s: float | None
    recovered_s: float | None


def line_chart(path: Path, title: str, xlabel: str, ylabel: str, series: Sequence[Series]) -> Path:
    """Lines over a shared x axis, e.g. requests per second over time."""
    figure, ax = _figure(title, xlabel, ylabel)
    for i, line in enumerate(series):
        ys = [math.nan if y is None else y for y in line.ys]
        ax.plot(line.xs, ys, label=line.label, color=COLORS[i % len(COLORS)], linewidth=1.6)
    if not any(line.xs for line in series):
        _no_data(ax)
    ax.set_ylim(bottom=0)
    _legend(ax, len(series) > 1)
    return _save(figure, path)


def bar_chart(
    path: Path,
    title: str,
    ylabel: str,
    categories: Sequence[str],
    groups: Mapping[str, Sequence[float | None]],
) -> Path:
    """Grouped bars: one group per category, one bar per entry of `groups` (its label mapped to
    one value per category); each bar is labelled with its value, a missing one with n/a."""
    figure, ax = _figure(title, "", ylabel)
    width = 0.8 / max(len(groups), 1)
    for i, (label, values) in enumerate(groups.items()):
        xs = [c + (i - (len(groups) - 1) / 2) * width for c in range(len(categories))]
        heights = [0.0 if v is None else v for v in values]  # labelled n/a at the baseline
        bars = ax.bar(xs, heights, width, label=label, color=COLORS[i % len(COLORS)])
        ax.bar_label(bars, labels=[_value(v) for v in values], fontsize=7, padding=1)
    slanted = any(len(c) > LONG_LABEL for c in categories)
    ax.set_xticks(
        range(len(categories)),
        labels=list(categories),
        parse_math=False,
        rotation=20 if slanted else 0,
        ha="right" if slanted else "center",
    )
    if not categories:
        _no_data(ax)
    ax.set_ylim(bottom=0)
    ax.margins(y=0.15)
    _legend(ax, len(groups) > 1)
    return _save(figure, path)


def timeline_chart(path: Path, title: str, xlabel: str, lanes: Sequence[Lane]) -> Path:
    """Faults as bars from injection to heal, one lane each (first at the top), a dot where the
    system had recovered and a cross where it never did."""
    height = max(HEIGHT_IN * 0.7, 1.2 + 0.42 * len(lanes))
    figure, ax = _figure(title, xlabel, "", height)
    rows = range(len(lanes), 0, -1)
    for y, lane in zip(rows, lanes, strict=True):
        _lane(ax, y, lane)
    ax.set_yticks(list(rows), labels=[lane.label for lane in lanes], parse_math=False)
    ax.set_ylim(0.4, len(lanes) + 0.6)
    if not any(lane.start_s is not None for lane in lanes):
        _no_data(ax, "no fault was injected")
    ax.set_xlim(0, _right_edge(lanes))
    handles = [
        Patch(color=FAULT_COLOR, label="fault held"),
        Line2D([], [], color=RECOVERED_COLOR, marker="o", linestyle="", label="recovered"),
        Line2D([], [], color=NEVER_COLOR, marker="x", linestyle="", label="never recovered"),
    ]
    _literal(ax.legend(handles=handles, **LEGEND).get_texts())
    return _save(figure, path)


def _lane(ax: Axes, y: int, lane: Lane) -> None:
    if lane.start_s is None:
        ax.text(0, y, "  not injected", va="center", fontsize=8, color="#555")
        return
    end = lane.end_s if lane.end_s is not None else lane.start_s
    ax.broken_barh(
        [(lane.start_s, max(end - lane.start_s, 0.05))], (y - 0.3, 0.6), color=FAULT_COLOR
    )
    if lane.recovered_s is not None:
        ax.plot([lane.recovered_s], [y], marker="o", color=RECOVERED_COLOR, markersize=7)
    else:
        ax.plot([end], [y], marker="x", color=NEVER_COLOR, markersize=9, markeredgewidth=2)


def _right_edge(lanes: Sequence[Lane]) -> float:
    """A little past the last thing on the timeline, so the last marker is not cut in half."""
    times = [t for lane in lanes for t in (lane.start_s, lane.end_s, lane.recovered_s) if t]
    return max(times, default=0.0) * 1.05 or 1.0


def _figure(
    title: str, xlabel: str, ylabel: str, height_in: float = HEIGHT_IN
) -> tuple[Figure, Axes]:
    figure = Figure(figsize=(WIDTH_IN, height_in), dpi=DPI, layout="constrained")
    FigureCanvasAgg(figure)
    ax = figure.add_subplot()
    ax.set_title(title, parse_math=False, fontsize=11)
    ax.set_xlabel(xlabel, parse_math=False)
    ax.set_ylabel(ylabel, parse_math=False)
    ax.grid(True, color="#e5e5e5", linewidth=0.8)
    ax.set_axisbelow(True)
    return figure, ax


def _no_data(ax: Axes, message: str = "no data") -> None:
    ax.text(0.5, 0.5, message, transform=ax.transAxes, ha="center", va="center", color="#777")


def _legend(ax: Axes, show: bool) -> None:
    if show:
        _literal(ax.legend(**LEGEND).get_texts())


def _literal(texts: Sequence) -> None:
    for text in texts:
        text.set_parse_math(False)


def _value(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3g}"


def _save(figure: Figure, path: Path) -> Path:
    """PNG without the software/version stamp, so equal charts are equal files."""
    figure.savefig(path, format="png", metadata={"Software": None})
    return path
