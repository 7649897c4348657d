"""The cost model's data: the rows the shells hand in, the report's lines, and the exact rates
every cost and saving comes from (Fractions, rounded once by `money` and `ratio`)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, fields
from decimal import Decimal
from fractions import Fraction

from mdc.cost.prices import UnitPrices
from mdc.errors import LocalMisuse

GB = 10**9
HOUR_NS = 3600 * 10**9
DAY_NS = 24 * HOUR_NS
MONTH_DAYS = 30
MONTH_NS = MONTH_DAYS * DAY_NS
MONEY_PLACES = 6
SHARE_PLACES = 4

CONNECT = "connect"
SNAPSHOT = "snapshot"
"""API call kinds (actors/connection.py): a websocket handshake, a book snapshot over REST. A
start makes one connect per provider and one snapshot per book symbol once; those are counted
once in the month, not projected as a rate (a short run would multiply them by thousands)."""

USE_TRADES = "trades"
USE_READS = "reads"
WAL = "wal"
JSONL = "jsonl"
OTHER = "other"
"""Tier of the files that belong to no stream (status, DLQ, quarantine): counted, not grown."""


class CostError(LocalMisuse):
    """Inputs that break this module's contract (negative bytes, a negative span)."""


@dataclass(frozen=True, slots=True)
class StorageRow:
    """Bytes on disk of one stream (venue, family, symbol) in one tier, of one event type.

    `tier` is `wal` or a projection (`parquet`, `jsonl`, `checkpoints`) or `other` (files of no
    stream: venue, family and symbol are ""). In the WAL, `type` is the event type (`trade`,
    `book_delta`, ...) with `framing` for record headers and `unreadable` for damaged bytes;
    in a projection it is the tier's name. `events` counts stored events (WAL rows only, so
    that no event is counted twice)."""

    venue: str
    family: str
    symbol: str
    type: str
    tier: str
    bytes: int
    events: int = 0

    def __post_init__(self) -> None:
        if self.bytes < 0 or self.events < 0:
            raise CostError(f"storage row {self}: bytes and events must be >= 0")


@dataclass(frozen=True, slots=True)
class ProviderUsage:
    """One venue connection's usage over the usage span (a provider ping's `usage`)."""

    venue: str
    messages: int = 0
    ws_bytes_in: int = 0
    ws_bytes_out: int = 0
    rest_bytes_in: int = 0
    api_calls: Mapping[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        counts = (self.messages, self.ws_bytes_in, self.ws_bytes_out, self.rest_bytes_in)
        if min((*counts, *self.api_calls.values()), default=0) < 0:
            raise CostError(f"usage of {self.venue}: counts must be >= 0")

    @property
    def bytes_in(self) -> int:
        return self.ws_bytes_in + self.rest_bytes_in

    @property
    def bytes_out(self) -> int:
        return self.ws_bytes_out

    @property
    def calls(self) -> int:
        return sum(self.api_calls.values())

    @classmethod
    def of(cls, venue: str, usage: Mapping) -> ProviderUsage:
        """From the `usage` dict of a ping or of status.json; what is missing or not a count is
        read as 0, so an older collector's status still reads."""

        def count(value: object) -> int:
            ok = isinstance(value, int) and not isinstance(value, bool) and value >= 0
            return value if ok else 0  # type: ignore[return-value]

        calls = usage.get("api_calls")
        calls = calls if isinstance(calls, Mapping) else {}
        return cls(
            venue,
            count(usage.get("messages")),
            count(usage.get("ws_bytes_in")),
            count(usage.get("ws_bytes_out")),
            count(usage.get("rest_bytes_in")),
            {str(k): count(v) for k, v in calls.items()},
        )


@dataclass(frozen=True, slots=True)
class CostInputs:
    """What the shells gathered. The two spans differ: the storage span runs from the first to
    the last stored event (the store may hold months), the usage span over the collector run
    that counted the usage. `use` maps (venue, symbol) to reads, when known."""

    storage: tuple[StorageRow, ...] = ()
    storage_span_ns: int = 0
    usage: tuple[ProviderUsage, ...] = ()
    usage_span_ns: int = 0
    use: Mapping[tuple[str, str], int] | None = None
    notes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.storage_span_ns < 0 or self.usage_span_ns < 0:
            raise CostError("spans must be >= 0 ns")


@dataclass(frozen=True, slots=True)
class Share:
    """One line of a storage table: its key parts, bytes, events, share of all stored bytes."""

    key: tuple[str, ...]
    bytes: int
    events: int
    share: Decimal


@dataclass(frozen=True, slots=True)
class ProviderLine:
    """A provider's usage and costs; `calls_per_hour` counts the recurring calls only."""

    usage: ProviderUsage
    startup_calls: int
    calls_per_hour: Decimal
    monthly_cost: Decimal


@dataclass(frozen=True, slots=True)
class Monthly:
    """The next MONTH_DAYS at the observed rates. Storage is billed on the month's average: what
    is stored now plus half the growth (it arrives evenly over the month)."""

    storage_now_bytes: int
    storage_growth_bytes: int
    storage_cost: Decimal
    ingress_bytes: int
    ingress_cost: Decimal
    egress_bytes: int
    egress_cost: Decimal
    api_calls: int
    api_cost: Decimal
    total_cost: Decimal


@dataclass(frozen=True, slots=True)
class Recommendation:
    kind: str
    target: str
    action: str
    reason: str
    monthly_saving: Decimal


@dataclass(frozen=True, slots=True)
class CostReport:
    prices: UnitPrices
    storage_span_ns: int
    usage_span_ns: int
    use_measure: str
    totals: dict[str, int]
    by_venue: tuple[Share, ...]
    by_symbol: tuple[Share, ...]
    by_type: tuple[Share, ...]
    by_tier: tuple[Share, ...]
    providers: tuple[ProviderLine, ...]
    monthly: Monthly
    recommendations: tuple[Recommendation, ...]
    notes: tuple[str, ...]

    def as_dict(self) -> dict:
        """Plain JSON: counts as integers, money and shares as decimal strings (exact)."""
        return {
            "prices": self.prices.as_list(),
            "span": {
                "storage_ns": self.storage_span_ns,
                "usage_ns": self.usage_span_ns,
                "month_days": MONTH_DAYS,
            },
            "totals": {**self.totals, "use_measure": self.use_measure},
            "storage": {
                "by_venue": _shares(self.by_venue, ("venue",)),
                "by_symbol": _shares(self.by_symbol, ("venue", "symbol")),
                "by_type": _shares(self.by_type, ("family", "type")),
                "by_tier": _shares(self.by_tier, ("tier",)),
            },
            "providers": [_provider_dict(p) for p in self.providers],
            "monthly": {
                k: str(v) if isinstance(v, Decimal) else v
                for k, v in ((f.name, getattr(self.monthly, f.name)) for f in fields(Monthly))
            },
            "recommendations": [
                {
                    "kind": r.kind,
                    "target": r.target,
                    "action": r.action,
                    "reason": r.reason,
                    "monthly_saving": str(r.monthly_saving),
                }
                for r in self.recommendations
            ],
            "notes": list(self.notes),
        }


def _shares(lines: Iterable[Share], names: tuple[str, ...]) -> list[dict]:
    return [
        {**dict(zip(names, s.key, strict=True)), "bytes": s.bytes, "events": s.events}
        | {"share": str(s.share)}
        for s in lines
    ]


def _provider_dict(p: ProviderLine) -> dict:
    u = p.usage
    return {
        "venue": u.venue,
        "messages": u.messages,
        "bytes_in": u.bytes_in,
        "bytes_out": u.bytes_out,
        "ws_bytes_in": u.ws_bytes_in,
        "rest_bytes_in": u.rest_bytes_in,
        "api_calls": u.calls,
        "api_calls_by_kind": dict(sorted(u.api_calls.items())),
        "startup_calls": p.startup_calls,
        "calls_per_hour": str(p.calls_per_hour),
        "monthly_cost": str(p.monthly_cost),
    }


def money(value: Fraction) -> Decimal:
    """Rounded once, half-even, to MONEY_PLACES."""
    return Decimal(round(value * 10**MONEY_PLACES)).scaleb(-MONEY_PLACES)


def ratio(part: Fraction, places: int = SHARE_PLACES) -> Decimal:
    return Decimal(round(part * 10**places)).scaleb(-places)


@dataclass(frozen=True, slots=True)
class Rates:
    """Monthly amounts as exact fractions: the projection and every saving come from here."""

    prices: UnitPrices
    storage_span_ns: int
    usage_span_ns: int
    startup: Mapping[str, int]
    """Per venue, the calls of its start (see CONNECT): counted once, not as a rate."""

    def growth(self, stored_bytes: int) -> Fraction:
        """Bytes the next month adds, at the rate these bytes were stored at."""
        if not self.storage_span_ns:
            return Fraction(0)
        return Fraction(stored_bytes * MONTH_NS, self.storage_span_ns)

    def per_month(self, count: int) -> Fraction:
        """A usage count over the usage span, projected over a month."""
        if not self.usage_span_ns:
            return Fraction(0)
        return Fraction(count * MONTH_NS, self.usage_span_ns)

    def storage_cost(self, now_bytes: int, growth: Fraction) -> Fraction:
        return Fraction(self.prices.storage_gb_month) * (now_bytes + growth / 2) / GB

    def growth_cost(self, stored_bytes: int) -> Fraction:
        """What these bytes' growth costs over the month (a saving if they stopped growing)."""
        return self.storage_cost(0, self.growth(stored_bytes))

    def ingress_cost(self, count: int) -> Fraction:
        return Fraction(self.prices.ingress_gb) * self.per_month(count) / GB

    def egress_cost(self, count: int) -> Fraction:
        return Fraction(self.prices.egress_gb) * self.per_month(count) / GB

    def recurring(self, usage: ProviderUsage) -> int:
        return usage.calls - self.startup.get(usage.venue, 0)

    def calls_month(self, usage: ProviderUsage) -> Fraction:
        """The start's calls once, the recurring ones at their rate (none without a span)."""
        if not self.usage_span_ns:
            return Fraction(0)
        return self.startup.get(usage.venue, 0) + self.per_month(self.recurring(usage))

    def api_cost(self, usage: ProviderUsage) -> Fraction:
        return Fraction(self.prices.api_calls_1000) * self.calls_month(usage) / 1000

    def per_hour(self, count: int) -> Fraction:
        if not self.usage_span_ns:
            return Fraction(0)
        return Fraction(count * HOUR_NS, self.usage_span_ns)


def startup_calls(inputs: CostInputs) -> dict[str, int]:
    """Per venue: one connect, and a snapshot per book symbol it stores (at most those made)."""
    books: dict[str, set[str]] = defaultdict(set)
    for r in inputs.storage:
        if r.family == "book" and r.tier == WAL:
            books[r.venue].add(r.symbol)
    return {
        u.venue: min(u.api_calls.get(CONNECT, 0), 1)
        + min(u.api_calls.get(SNAPSHOT, 0), len(books[u.venue]))
        for u in inputs.usage
    }


def table(
    rows: Iterable[StorageRow], total: int, key: Callable[[StorageRow], tuple[str, ...]]
) -> tuple[Share, ...]:
    """Rows summed by `key`, largest first (ties by key)."""
    sums: dict[tuple[str, ...], list[int]] = defaultdict(lambda: [0, 0])
    for r in rows:
        sums[key(r)][0] += r.bytes
        sums[key(r)][1] += r.events
    lines = [
        Share(k, b, e, ratio(Fraction(b, total)) if total else Decimal(0))
        for k, (b, e) in sums.items()
    ]
    return tuple(sorted(lines, key=lambda s: (-s.bytes, s.key)))


def size_text(nbytes: int) -> str:
    """Bytes in decimal units (kB, MB, GB, TB), as bills count them."""
    for unit, scale in (("TB", 10**12), ("GB", 10**9), ("MB", 10**6), ("kB", 10**3)):
        if nbytes >= scale:
            return f"{ratio(Fraction(nbytes, scale), 1)} {unit}"
    return f"{nbytes} B"


def span_text(ns: int) -> str:
    if not ns:
        return "no time"
    seconds = ns // 10**9
    days, rest = divmod(seconds, 86_400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [(days, "d"), (hours, "h"), (minutes, "m"), (secs, "s")]
    shown = [f"{n}{u}" for n, u in parts if n][:2]
    return " ".join(shown) or "under 1s"
