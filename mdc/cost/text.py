"""The cost report as plain text no wider than asked (80 columns for `mdc cost`)."""

from __future__ import annotations

import textwrap

from mdc.cost.model import (
    MONTH_DAYS,
    CostReport,
    ProviderLine,
    Recommendation,
    Share,
    size_text,
    span_text,
)


def render_text(report: CostReport, width: int = 80, top: int = 10) -> str:
    """The report as plain text no wider than `width`; the storage tables show `top` lines."""
    m = report.monthly
    head = (
        f"mdc cost: storage over {span_text(report.storage_span_ns)}, provider usage over "
        f"{span_text(report.usage_span_ns)}; prices: "
        + ", ".join(f"{p['name']}={p['value']}" for p in report.prices.as_list())
    )
    blocks = [
        textwrap.wrap(head, width, subsequent_indent="  "),
        _grid(
            [f"next {MONTH_DAYS} days", "amount", "cost"],
            [
                [
                    "storage",
                    f"{size_text(m.storage_now_bytes)} +{size_text(m.storage_growth_bytes)}",
                    str(m.storage_cost),
                ],
                ["network in", size_text(m.ingress_bytes), str(m.ingress_cost)],
                ["network out", size_text(m.egress_bytes), str(m.egress_cost)],
                ["API calls", f"{m.api_calls:,}", str(m.api_cost)],
                ["total", "", str(m.total_cost)],
            ],
        ),
        *[
            _share_grid(title, lines, top)
            for title, lines in (
                (("venue",), report.by_venue),
                (("venue", "symbol"), report.by_symbol),
                (("family", "type"), report.by_type),
                (("tier",), report.by_tier),
            )
        ],
        _provider_grid(report.providers),
        _recommendation_lines(report.recommendations, width),
        [line for note in report.notes for line in textwrap.wrap(f"note: {note}", width)],
    ]
    return "\n\n".join("\n".join(b) for b in blocks if b) + "\n"


def _share_grid(names: tuple[str, ...], lines: tuple[Share, ...], top: int) -> list[str]:
    if not lines:
        return []
    rows = [
        [*(k or "-" for k in s.key), size_text(s.bytes), f"{s.share * 100:.1f}%", f"{s.events:,}"]
        for s in lines[:top]
    ]
    if len(lines) > top:
        rows.append([f"... {len(lines) - top} more", *[""] * (len(names) + 2)])
    return _grid([*names, "bytes", "share", "events"], rows, len(names))


def _provider_grid(providers: tuple[ProviderLine, ...]) -> list[str]:
    if not providers:
        return []
    rows = [
        [
            p.usage.venue,
            f"{p.usage.messages:,}",
            size_text(p.usage.bytes_in),
            size_text(p.usage.bytes_out),
            f"{p.usage.calls:,}",
            str(p.calls_per_hour),
            str(p.monthly_cost),
        ]
        for p in providers
    ]
    head = ["provider", "messages", "in", "out", "calls", "calls/h", "per month"]
    return _grid(head, rows)


def _recommendation_lines(recs: tuple[Recommendation, ...], width: int) -> list[str]:
    if not recs:
        return ["recommendations: none (nothing stands out)"]
    lines = ["recommendations, largest monthly saving first:"]
    for i, r in enumerate(recs, 1):
        head = f"{i}. {r.target}: {r.action} (saves {r.monthly_saving} a month)"
        lines += textwrap.wrap(head, width, subsequent_indent="   ")
        lines += textwrap.wrap(r.reason, width, initial_indent="   ", subsequent_indent="   ")
    return lines


def _grid(head: list[str], rows: list[list[str]], text_columns: int = 1) -> list[str]:
    """The first `text_columns` aligned left, the numbers after them right; two spaces apart."""
    table = [head, *rows]
    widths = [max(len(r[i]) for r in table) for i in range(len(head))]
    out = [
        "  ".join(
            cell.ljust(w) if i < text_columns else cell.rjust(w)
            for i, (cell, w) in enumerate(zip(r, widths, strict=True))
        ).rstrip()
        for r in table
    ]
    out.insert(1, "  ".join("-" * w for w in widths))
    return out
