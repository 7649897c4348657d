"""`cost_report`: the inputs priced, tabled and projected over a month, with the recommendations
(mdc/cost/recommend.py) ranked."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from fractions import Fraction

from mdc.cost.model import (
    HOUR_NS,
    OTHER,
    USE_READS,
    USE_TRADES,
    CostInputs,
    CostReport,
    Monthly,
    ProviderLine,
    ProviderUsage,
    Rates,
    StorageRow,
    money,
    ratio,
    span_text,
    startup_calls,
    table,
)
from mdc.cost.prices import UnitPrices
from mdc.cost.recommend import recommend


def cost_report(inputs: CostInputs, prices: UnitPrices | None = None) -> CostReport:
    """Price the inputs, project a month, rank the recommendations."""
    prices = prices or UnitPrices()
    rates = Rates(prices, inputs.storage_span_ns, inputs.usage_span_ns, startup_calls(inputs))
    rows = inputs.storage
    total = sum(r.bytes for r in rows)
    use, measure = _use(inputs)
    return CostReport(
        prices=prices,
        storage_span_ns=inputs.storage_span_ns,
        usage_span_ns=inputs.usage_span_ns,
        use_measure=measure,
        totals=_totals(inputs, total, use),
        by_venue=table(rows, total, lambda r: (r.venue,)),
        by_symbol=table(rows, total, lambda r: (r.venue, r.symbol)),
        by_type=table(rows, total, lambda r: (r.family, r.type)),
        by_tier=table(rows, total, lambda r: (r.tier,)),
        providers=tuple(_provider_line(u, rates) for u in sorted(inputs.usage, key=_venue)),
        monthly=_monthly(inputs, rates, total),
        recommendations=recommend(inputs, rates, use, total),
        notes=(*inputs.notes, *_notes(inputs, total)),
    )


def _venue(usage: ProviderUsage) -> str:
    return usage.venue


def _use(inputs: CostInputs) -> tuple[dict[tuple[str, str], int], str]:
    if inputs.use is not None:
        return dict(inputs.use), USE_READS
    trades: dict[tuple[str, str], int] = defaultdict(int)
    for r in inputs.storage:
        if r.type == "trade":
            trades[(r.venue, r.symbol)] += r.events
    return dict(trades), USE_TRADES


def _totals(inputs: CostInputs, total: int, use: Mapping) -> dict[str, int]:
    usage = inputs.usage
    return {
        "storage_bytes": total,
        "events": sum(r.events for r in inputs.storage),
        "use": sum(use.values()),
        "messages": sum(u.messages for u in usage),
        "bytes_in": sum(u.bytes_in for u in usage),
        "bytes_out": sum(u.bytes_out for u in usage),
        "api_calls": sum(u.calls for u in usage),
    }


def _provider_line(usage: ProviderUsage, rates: Rates) -> ProviderLine:
    cost = (
        rates.ingress_cost(usage.bytes_in)
        + rates.egress_cost(usage.bytes_out)
        + rates.api_cost(usage)
    )
    hourly = ratio(rates.per_hour(rates.recurring(usage)), 2)
    return ProviderLine(usage, rates.startup.get(usage.venue, 0), hourly, money(cost))


def _growing(rows: Iterable[StorageRow]) -> int:
    """Bytes that grow with the data (the `other` files do not)."""
    return sum(r.bytes for r in rows if r.tier != OTHER)


def _monthly(inputs: CostInputs, rates: Rates, total: int) -> Monthly:
    growth = rates.growth(_growing(inputs.storage))
    bytes_in = sum(u.bytes_in for u in inputs.usage)
    bytes_out = sum(u.bytes_out for u in inputs.usage)
    calls = sum((rates.calls_month(u) for u in inputs.usage), Fraction(0))
    parts = (
        rates.storage_cost(total, growth),
        rates.ingress_cost(bytes_in),
        rates.egress_cost(bytes_out),
        sum((rates.api_cost(u) for u in inputs.usage), Fraction(0)),
    )
    return Monthly(
        storage_now_bytes=total,
        storage_growth_bytes=round(growth),
        storage_cost=money(parts[0]),
        ingress_bytes=round(rates.per_month(bytes_in)),
        ingress_cost=money(parts[1]),
        egress_bytes=round(rates.per_month(bytes_out)),
        egress_cost=money(parts[2]),
        api_calls=round(calls),
        api_cost=money(parts[3]),
        total_cost=money(sum(parts, Fraction(0))),
    )


def _notes(inputs: CostInputs, total: int) -> list[str]:
    notes = []
    if not inputs.storage:
        notes.append("the store is empty (no WAL segment, no projection): no storage to cost")
    elif not inputs.storage_span_ns:
        notes.append(
            "the stored events span no time (at most one instant): no growth rate, so the "
            "projection holds the storage at its size now"
        )
    if inputs.usage and not inputs.usage_span_ns:
        notes.append("the provider usage spans no time: no rate, network and API projected at 0")
    for what, span in (("storage", inputs.storage_span_ns), ("usage", inputs.usage_span_ns)):
        if 0 < span < HOUR_NS:
            notes.append(
                f"the {what} rate was observed over only {span_text(span)}: a rough projection "
                "until the collector has run for an hour or more"
            )
    if not total and not inputs.usage:
        notes.append("nothing to cost yet: collect some data first (mdc run)")
    return notes
