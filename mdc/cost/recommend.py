"""What to change, each with its estimated monthly saving: symbols that cost most for the least
use, the venue calling the API most, the event type dominating storage, the JSONL copy."""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Callable, Mapping
from fractions import Fraction

from mdc.cost.model import (
    JSONL,
    OTHER,
    WAL,
    CostInputs,
    Rates,
    Recommendation,
    money,
    ratio,
    size_text,
    span_text,
    table,
)

REDUCTION = Fraction(1, 2)
"""What a "reduce it" recommendation assumes it saves: half the bytes (half the depth levels
halve a book stream's deltas and snapshots, roughly)."""
HEAVY_RATIO = 2
"""A symbol's book is flagged when its bytes per use reach this multiple of the other symbols'
median (their median, not the overall ratio, which the heavy symbol itself would drag up)."""
BUSY_CALLS_PER_HOUR = 60
"""API calls per hour below which a venue is never flagged (one a minute: routine resyncs)."""
DOMINANT_SHARE = Fraction(1, 2)
"""An event type holding at least this share of the storage gets a recommendation of its own."""
JSONL_SHARE = Fraction(1, 20)
"""The JSONL projection is flagged from this share of the storage on."""


def recommend(
    inputs: CostInputs, rates: Rates, use: Mapping[tuple[str, str], int], total: int
) -> tuple[Recommendation, ...]:
    """Every recommendation, largest monthly saving first (ties by kind, then target)."""
    found = [
        *_symbol_recommendations(inputs, rates, use),
        *_api_recommendations(inputs, rates),
        *_type_recommendations(inputs, rates, total),
        *_jsonl_recommendations(inputs, rates, total),
    ]
    return tuple(sorted(found, key=lambda r: (-r.monthly_saving, r.kind, r.target)))


def _ingress_share(inputs: CostInputs, rates: Rates) -> Callable[[str, int], Fraction]:
    """Ingress cost attributed to `wal_bytes` of a venue: the venue's received bytes are shared
    out by the streams' WAL bytes (wire bytes and stored bytes grow together)."""
    venue_wal: dict[str, int] = defaultdict(int)
    for r in inputs.storage:
        if r.tier == WAL:
            venue_wal[r.venue] += r.bytes
    venue_cost = {u.venue: rates.ingress_cost(u.bytes_in) for u in inputs.usage}

    def share(venue: str, wal_bytes: int) -> Fraction:
        whole = venue_wal.get(venue, 0)
        return venue_cost.get(venue, Fraction(0)) * wal_bytes / whole if whole else Fraction(0)

    return share


def _symbol_recommendations(
    inputs: CostInputs, rates: Rates, use: Mapping[tuple[str, str], int]
) -> list[Recommendation]:
    """Symbols with no use at all: drop them; symbols whose book costs most bytes per use:
    fewer depth levels (or drop the symbol)."""
    ingress = _ingress_share(inputs, rates)
    stored: dict[tuple[str, str], int] = defaultdict(int)
    wal: dict[tuple[str, str], int] = defaultdict(int)
    book: dict[tuple[str, str], int] = defaultdict(int)
    book_wal: dict[tuple[str, str], int] = defaultdict(int)
    for r in inputs.storage:
        if r.tier == OTHER or not r.symbol:
            continue
        key = (r.venue, r.symbol)
        stored[key] += r.bytes
        wal[key] += r.bytes if r.tier == WAL else 0
        book[key] += r.bytes if r.family == "book" else 0
        book_wal[key] += r.bytes if r.family == "book" and r.tier == WAL else 0
    out = []
    for key in sorted(k for k in stored if not use.get(k)):
        saving = rates.growth_cost(stored[key]) + ingress(key[0], wal[key])
        out.append(_unused(key, stored[key], inputs, saving))
    used = {k: Fraction(b, use[k]) for k, b in book.items() if b and use.get(k)}
    for key, per_use in sorted(used.items()):
        others = [v for k, v in used.items() if k != key]
        typical = statistics.median(others) if others else per_use
        if per_use >= HEAVY_RATIO * typical and others:
            whole = rates.growth_cost(book[key]) + ingress(key[0], book_wal[key])
            out.append(_heavy_book(key, per_use, typical, inputs, REDUCTION * whole))
    return out


def _unused(
    key: tuple[str, str], nbytes: int, inputs: CostInputs, saving: Fraction
) -> Recommendation:
    what = "no read" if inputs.use is not None else "no trade"
    return Recommendation(
        "unused_symbol",
        "/".join(key),
        f"drop {key[1]} from {key[0]} (or keep only what is read)",
        f"{size_text(nbytes)} stored and {what} recorded for it: its bytes carry no use",
        money(saving),
    )


def _heavy_book(
    key: tuple[str, str], per_use: Fraction, typical: Fraction, inputs: CostInputs, saving: Fraction
) -> Recommendation:
    unit = "read" if inputs.use is not None else "trade"
    return Recommendation(
        "book_depth",
        "/".join(key),
        f"record fewer depth levels for {key[1]} on {key[0]} (or drop the symbol)",
        f"its book costs {size_text(round(per_use))} per {unit}, {ratio(per_use / typical, 1)}x "
        f"the other symbols' median {size_text(round(typical))}; saving assumes half the depth",
        money(saving),
    )


def _api_recommendations(inputs: CostInputs, rates: Rates) -> list[Recommendation]:
    """The venue with most API calls per hour, when it stands out: backfills, resyncs or
    reconnects; saving: its recurring calls (and REST bytes) above the others' median rate."""
    if not inputs.usage or not inputs.usage_span_ns:
        return []
    hourly = {u.venue: rates.per_hour(rates.recurring(u)) for u in inputs.usage}
    top = max(inputs.usage, key=lambda u: (hourly[u.venue], u.venue))
    others = [rate for venue, rate in hourly.items() if venue != top.venue]
    baseline = max(Fraction(BUSY_CALLS_PER_HOUR), statistics.median(others) if others else 0)
    rate = hourly[top.venue]
    if rate <= baseline or (others and rate < HEAVY_RATIO * statistics.median(others)):
        return []
    excess = (rate - baseline) / rate
    rest_share = Fraction(top.rest_bytes_in, top.bytes_in) if top.bytes_in else Fraction(0)
    recurring = Fraction(rates.prices.api_calls_1000) * rates.per_month(rates.recurring(top))
    whole = recurring / 1000 + rates.ingress_cost(top.bytes_in) * rest_share
    kinds = ", ".join(f"{kind} {n:,}" for kind, n in sorted(top.api_calls.items()) if n)
    return [
        Recommendation(
            "api_calls",
            top.venue,
            f"find why {top.venue} resyncs, backfills or reconnects so often (mdc status: "
            "reconnects, gaps)",
            f"{ratio(rate, 1)} recurring API calls per hour against {ratio(baseline, 1)} "
            f"expected ({kinds} in {span_text(inputs.usage_span_ns)})",
            money(whole * excess),
        )
    ]


TYPE_ACTIONS = {
    "book_delta": "record fewer depth levels, or fewer book symbols",
    "book_snapshot": "resync less (snapshots follow gaps and reconnects) or snapshot less often",
    "trade": "record fewer symbols",
    "quote": "drop quotes where the book is recorded too",
    "framing": "batch more events per record (framing is paid per batch)",
    "parquet": "keep fewer days of Parquet, or drop a table nobody queries",
    "checkpoints": "checkpoint books less often",
}


def _type_recommendations(inputs: CostInputs, rates: Rates, total: int) -> list[Recommendation]:
    """The event type that dominates storage (at least DOMINANT_SHARE of it)."""
    if not total:
        return []
    lines = table(inputs.storage, total, lambda r: (r.family, r.type))
    top = lines[0]
    if Fraction(top.bytes, total) < DOMINANT_SHARE or top.key[1] in (OTHER, JSONL):
        return []
    family, kind = top.key
    return [
        Recommendation(
            "dominant_type",
            f"{family}/{kind}",
            TYPE_ACTIONS.get(kind, f"store less {kind}"),
            f"{kind} holds {ratio(Fraction(top.bytes * 100, total), 1)}% of the storage "
            f"({size_text(top.bytes)}); saving assumes half as much of it",
            money(REDUCTION * rates.growth_cost(top.bytes)),
        )
    ]


def _jsonl_recommendations(inputs: CostInputs, rates: Rates, total: int) -> list[Recommendation]:
    """The JSONL projection is a text copy of the log (for grep and jq): dropping it saves its
    whole monthly cost, what it holds now included."""
    nbytes = sum(r.bytes for r in inputs.storage if r.tier == JSONL)
    if not total or Fraction(nbytes, total) < JSONL_SHARE:
        return []
    return [
        Recommendation(
            "projection",
            JSONL,
            "delete DATA_DIR/jsonl and stop refreshing it, unless someone greps it",
            f"the JSONL projection holds {ratio(Fraction(nbytes * 100, total), 1)}% of the "
            f"storage ({size_text(nbytes)}), a text copy of what the WAL and Parquet hold",
            money(rates.storage_cost(nbytes, rates.growth(nbytes))),
        )
    ]
