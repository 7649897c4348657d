"""Prometheus metrics of the driver, and the HTTP endpoint Kubernetes probes and scrapes.

Actors run in other processes, so they keep plain counters and report them in their `ping()` dict;
the supervisor polls those dicts every second and `update_from_status` folds them into this
process's registry. A counter in a ping restarts from zero with every actor incarnation, so each
value is read as a delta against the last value seen from the same incarnation (child name, node,
pid and start time, whichever the ping has); the exported Prometheus counters only ever go up, as
counters must, and keep their `_created` time. Events/s is `rate(mdc_events_total[1m])` in
Prometheus.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge
from prometheus_client.core import HistogramMetricFamily, Metric
from prometheus_client.exposition import generate_latest

from actors.panel import REFUSING, USAGE, refusals
from mdc.errors import LocalMisuse

LAG_BUCKETS_S = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
"""End-to-end lag bounds: venue time to fsync acknowledgement."""

Readiness = Callable[[], tuple[bool, str]]


class MetricsError(LocalMisuse):
    """A status dict or a server call that breaks this module's contract."""


@dataclass
class LagHistogram:
    """Actor-side histogram without prometheus_client (it crosses Ray as a plain dict):
    per-bucket counts, the last bucket being +Inf."""

    bounds: tuple[float, ...] = LAG_BUCKETS_S
    counts: list[int] = field(default_factory=list)
    total_s: float = 0.0

    def __post_init__(self) -> None:
        self.counts = self.counts or [0] * (len(self.bounds) + 1)

    def observe(self, seconds: float) -> None:
        self.counts[bisect.bisect_left(self.bounds, seconds)] += 1
        self.total_s += seconds

    def snapshot(self) -> dict:
        return {"bounds": list(self.bounds), "counts": list(self.counts), "sum": self.total_s}


class _Deltas:
    """Turns per-incarnation running totals into increments (a new incarnation starts at 0)."""

    def __init__(self) -> None:
        self.last: dict[tuple, float] = {}

    def delta(self, incarnation: tuple, key: tuple, value: float) -> float:
        previous = self.last.get((incarnation, key), 0.0)
        self.last[(incarnation, key)] = value
        return value - previous if value >= previous else value

    def forget_except(self, alive: set[tuple]) -> None:
        """Drops the baselines of incarnations that are gone, so the table stays bounded."""
        self.last = {k: v for k, v in self.last.items() if k[0] in alive}


class Metrics:
    """The driver's registry: counters fed from actor pings, gauges set directly."""

    def __init__(self, namespace: str = "mdc") -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self._deltas = _Deltas()
        self._lag: dict[str, tuple[list[float], list[float], float]] = {}
        self._dlq_labels: set[tuple[str, str]] = set()
        self._refusal_reasons: set[str] = set()

        def counter(name: str, doc: str, labels: tuple[str, ...]) -> Counter:
            return Counter(name, doc, labels, namespace=namespace, registry=self.registry)

        def gauge(name: str, doc: str, labels: tuple[str, ...]) -> Gauge:
            return Gauge(name, doc, labels, namespace=namespace, registry=self.registry)

        self.events = counter("events", "Events received, by venue and type.", ("venue", "type"))
        self.reconnects = counter("reconnects", "Venue reconnects.", ("venue",))
        self.restarts = counter("restarts", "Actor restarts by the supervisor.", ("actor",))
        self.gaps = counter(
            "gaps", "Gaps detected (trade ids, book sequence).", ("venue", "stream")
        )
        self.backfilled = counter("backfilled_trades", "Trades recovered over REST.", ("venue",))
        self.failures = counter("failures", "Failures, by cause.", ("cause",))
        self.provider_messages = counter(
            "provider_messages", "Websocket messages received from the venue.", ("venue",)
        )
        self.provider_bytes = counter(
            "provider_network_bytes",
            "Payload bytes exchanged with the venue, by direction (in, out) and transport "
            "(websocket, rest); TLS, TCP/IP, websocket framing and HTTP headers left out.",
            ("venue", "direction", "transport"),
        )
        self.provider_calls = counter(
            "provider_api_calls",
            "Calls to the venue's API by kind: connect (websocket handshakes), snapshot and "
            "trades (REST requests by purpose, failed ones too).",
            ("venue", "kind"),
        )
        self.stored = counter("stored_events", "Events the writer handled.", ("outcome",))
        self.queue_depth = gauge("queue_depth", "Items waiting in a bounded queue.", ("queue",))
        self.dlq_entries = gauge("dlq_entries", "Dead letter entries.", ("cause", "state"))
        self.actor_up = gauge("actor_up", "1 while the actor is running.", ("actor",))
        self.refusing = gauge(
            "store_refusing_writes", "1 while the store refuses writes, by why.", ("reason",)
        )
        self.alerts_firing = gauge(
            "alerts_firing", "Alerts firing now, by rule and severity.", ("alertname", "severity")
        )
        self.notifications = counter(
            "alert_notifications",
            "Alert notifications, by channel and outcome.",
            ("channel", "outcome"),
        )
        self.alert_lag = gauge(
            "alert_evaluation_lag_seconds", "Receive time to evaluation of the last event read.", ()
        )
        self._firing_labels: set[tuple[str, str]] = set()
        self.registry.register(_LagCollector(self, f"{namespace}_end_to_end_lag_seconds"))

    def render(self) -> bytes:
        return generate_latest(self.registry)

    def count_failure(self, cause: str, amount: int = 1) -> None:
        """For failures seen in the driver itself (a ping timeout, a DLQ write)."""
        self.failures.labels(cause).inc(amount)

    def set_dlq(self, counts: Mapping[tuple[str, str], int]) -> None:
        """The DLQ's sizes by (cause, state), all of them, so emptied ones drop to 0."""
        for labels in self._dlq_labels - set(counts):
            self.dlq_entries.labels(*labels).set(0)
        for labels, n in counts.items():
            self.dlq_entries.labels(*labels).set(n)
        self._dlq_labels |= set(counts)

    def update_alerts(self, stats: Mapping, incarnation: tuple) -> None:
        """The alert actor's `stats()`: firing counts (`name/severity` -> n), notifications
        sent and failed by channel (running totals of this incarnation), evaluation lag."""
        firing = {tuple(key.split("/", 1)): n for key, n in stats.get("firing", {}).items()}
        for labels in self._firing_labels - set(firing):
            self.alerts_firing.labels(*labels).set(0)
        for labels, n in firing.items():
            self.alerts_firing.labels(*labels).set(n)
        self._firing_labels |= set(firing)
        for outcome in ("sent", "failed"):
            for channel, n in stats.get(outcome, {}).items():
                step = self._deltas.delta(incarnation, ("alerts", outcome, channel), n)
                self.notifications.labels(channel, outcome).inc(step)
        self.alert_lag.set(stats.get("lag_ns", 0) / 1e9)

    def set_refusal(self, reason: str) -> None:
        """Why the store refuses writes now ("": it takes them); earlier reasons drop to 0."""
        for old in self._refusal_reasons - {reason}:
            self.refusing.labels(old).set(0)
        if reason:
            self.refusing.labels(reason).set(1)
            self._refusal_reasons.add(reason)

    def add_lag(self, venue: str, incarnation: tuple, snapshot: Mapping) -> None:
        bounds, counts = list(snapshot["bounds"]), list(snapshot["counts"])
        if len(counts) != len(bounds) + 1:
            raise MetricsError(
                f"lag histogram of {venue}: {len(counts)} counts, {len(bounds)} bounds"
            )
        known = self._lag.get(venue)
        if known is not None and known[0] != bounds:
            raise MetricsError(f"lag histogram of {venue}: bucket bounds changed")
        totals = known[1] if known else [0.0] * len(counts)
        for i, n in enumerate(counts):
            totals[i] += self._deltas.delta(incarnation, ("lag", i), n)
        total_s = (known[2] if known else 0.0) + self._deltas.delta(
            incarnation, ("lag", "sum"), float(snapshot["sum"])
        )
        self._lag[venue] = (bounds, totals, total_s)

    def lag_families(self, name: str) -> Iterable[Metric]:
        family = HistogramMetricFamily(
            name, "Venue time to fsync acknowledgement, per event batch.", labels=["venue"]
        )
        for venue, (bounds, totals, total_s) in sorted(self._lag.items()):
            running, buckets = 0.0, []
            for bound, n in zip([*map(str, bounds), "+Inf"], totals, strict=True):
                running += n
                buckets.append((bound, running))
            family.add_metric([venue], buckets, total_s)
        yield family

    def update_from_status(self, status: Mapping[str, Mapping]) -> None:
        """Folds the supervisor's `status()` (child name -> its state and last ping) in.

        Keys read: state, restarts, pid; providers: venue, reconnects, backfilled,
        `events by type`, `lag histogram`, usage; providers and books: unacked, gaps (or
        `gaps by stream`); writer: stored, duplicates, `refusing writes`; any: `failures by
        cause`. Missing keys are skipped, so actors can grow their pings one key at a time."""
        alive: set[tuple] = set()
        for name, child in status.items():
            if not isinstance(child, Mapping):
                raise MetricsError(f"status of {name!r} must be a dict, not {type(child).__name__}")
            incarnation = (name, child.get("node"), child.get("pid"), child.get("started_ns"))
            alive.add(incarnation)
            self._fold_child(name, child, incarnation)
        self._deltas.forget_except(alive | {(name,) for name in status})

    def _fold_child(self, name: str, child: Mapping, incarnation: tuple) -> None:
        kind, _, venue = name.partition(":")
        venue = child.get("venue") or venue or "-"

        def add(counter: Counter, labels: tuple[str, ...], key: str, value: float | None) -> None:
            if value is not None:
                counter.labels(*labels).inc(self._deltas.delta(incarnation, (key, *labels), value))

        self.actor_up.labels(name).set(1 if _running(child) else 0)
        restarts = self._deltas.delta((name,), ("restarts",), child.get("restarts", 0))
        self.restarts.labels(name).inc(restarts)
        if "unacked" in child:
            self.queue_depth.labels(f"{name}/unacked").set(child["unacked"])
        for event_type, n in child.get("events by type", {}).items():
            add(self.events, (venue, event_type), "events", n)
        for stream, n in _gaps(child, kind).items():
            add(self.gaps, (venue, stream), "gaps", n)
        if kind == "provider":
            add(self.reconnects, (venue,), "reconnects", child.get("reconnects"))
            add(self.backfilled, (venue,), "backfilled", child.get("backfilled"))
            if "lag histogram" in child:
                self.add_lag(venue, incarnation, child["lag histogram"])
            self._fold_usage(venue, child.get(USAGE) or {}, add)
        add(self.stored, ("stored",), "stored", child.get("stored"))
        add(self.stored, ("duplicate",), "duplicates", child.get("duplicates"))
        for cause, n in child.get("failures by cause", {}).items():
            add(self.failures, (cause,), "failures", n)
        if "dlq" in child:
            self.set_dlq({(cause, state): n for cause, state, n in child["dlq"]})
        if REFUSING in child:
            self.set_refusal(child[REFUSING])

    def _fold_usage(self, venue: str, usage: Mapping, add: Callable) -> None:
        """A provider's `usage` (see `ConnectionStats.usage`) into the provider counters."""
        add(self.provider_messages, (venue,), "messages", usage.get("messages"))
        for key, direction, transport in _USAGE_BYTES:
            add(self.provider_bytes, (venue, direction, transport), key, usage.get(key))
        for kind, n in usage.get("api_calls", {}).items():
            add(self.provider_calls, (venue, kind), "api_calls", n)


_USAGE_BYTES = (
    ("ws_bytes_in", "in", "websocket"),
    ("ws_bytes_out", "out", "websocket"),
    ("rest_bytes_in", "in", "rest"),
)
"""Usage keys of byte counts and their labels of `mdc_provider_network_bytes_total`."""


class _LagCollector:
    """Emits the lag histogram from bucket counts summed from actor snapshots."""

    def __init__(self, metrics: Metrics, name: str) -> None:
        self.metrics = metrics
        self.name = name

    def collect(self) -> Iterable[Metric]:
        return self.metrics.lag_families(self.name)

    def describe(self) -> Iterable[Metric]:
        return [HistogramMetricFamily(self.name, "")]


def _gaps(child: Mapping, kind: str) -> Mapping[str, int]:
    """Gaps by stream; an actor that reports only a total is labelled with its kind."""
    if "gaps by stream" in child:
        return child["gaps by stream"]
    return {f"({kind})": child["gaps"]} if "gaps" in child else {}


def update_from_status(metrics: Metrics, status: Mapping[str, Mapping]) -> None:
    """See `Metrics.update_from_status`; called by the driver after each supervisor poll."""
    metrics.update_from_status(status)


def _running(child: Mapping) -> bool:
    return child.get("state") == "running"


def readiness_from_status(status: Mapping[str, Mapping]) -> tuple[bool, str]:
    """Ready when every child runs and the store takes writes; otherwise the reason says what
    is wrong (the children that do not run, why the store refuses writes)."""
    if not status:
        return False, "no actors started yet"
    down = [
        f"{name} is {c.get('state')}" for name, c in status.items() if c.get("state") != "running"
    ]
    problems = down + refusals(status)
    return not problems, "; ".join(problems) or "all actors running"


class MetricsServer:
    """`/metrics`, `/livez`, `/readyz` on 127.0.0.1 by default, inside the caller's event loop."""

    def __init__(
        self, metrics: Metrics, ready: Readiness, *, host: str = "127.0.0.1", port: int = 0
    ) -> None:
        self.metrics = metrics
        self.ready = ready
        self.host = host
        self.port = port
        self._runner: web.AppRunner | None = None

    async def start(self) -> int:
        """Listens and returns the bound port (useful with port 0)."""
        if self._runner is not None:
            raise MetricsError("metrics server already started")
        app = web.Application()
        app.router.add_get("/metrics", self._metrics)
        app.router.add_get("/livez", self._livez)
        app.router.add_get("/readyz", self._readyz)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        self.port = self._runner.addresses[0][1]
        return self.port

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _metrics(self, _request: web.Request) -> web.Response:
        return web.Response(
            body=self.metrics.render(), headers={"Content-Type": CONTENT_TYPE_LATEST}
        )

    async def _livez(self, _request: web.Request) -> web.Response:
        return web.json_response({"live": True})

    async def _readyz(self, _request: web.Request) -> web.Response:
        try:
            ready, reason = self.ready()
        except Exception as exc:  # a broken callback must read as "not ready", not as a 500
            ready, reason = False, f"readiness check failed: {type(exc).__name__}: {exc}"
        return web.json_response({"ready": ready, "reason": reason}, status=200 if ready else 503)
