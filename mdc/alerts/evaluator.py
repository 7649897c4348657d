"""The alert evaluator: events and time in, alert transitions out (sans-I/O).

One alert per rule and label set (per instrument, or per venue for venue rules). An alert whose
condition holds becomes pending, then firing once it has held for the rule's `for` duration
(at once without one); when it no longer holds it resolves. Only firing and resolved are
transitions; a pending alert that stops holding was never sent, as in Prometheus.

Time is the events' receive time. A rule is evaluated when an event of a stream it reads arrives
for its instrument; a clocked rule (it reads `time_since_*` or has `for`) also at every tick, a
multiple of `tick_ns`. Ticks before an event are evaluated before it, per alert, so the result
depends only on each stream's own order: following the live log and replaying the store (which
interleave streams differently) give the same transitions. `advance(now)` runs the ticks up to
`now` where no event comes (a silent feed is how `time_since_last_trade` grows); the caller
advances only to an instant every earlier event has already been fed by.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from mdc.alerts.expr import Kind, Value
from mdc.alerts.fields import InstrumentState, Scope, VenueState
from mdc.alerts.rules import Rule
from mdc.events import Event, Quote, Status, Trade
from mdc.timefmt import NS, format_rfc3339_ns

DEFAULT_TICK_NS = NS
ZERO_TIME = "0001-01-01T00:00:00Z"
"""Alertmanager's `endsAt` of an alert still firing (Go's zero time)."""


class AlertState(enum.Enum):
    INACTIVE = "inactive"
    PENDING = "pending"
    FIRING = "firing"


@dataclass(frozen=True, slots=True)
class Transition:
    """An alert started firing or resolved; times in ns (`ends_at_ns` None while firing)."""

    alertname: str
    labels: tuple[tuple[str, str], ...]
    status: str  # firing | resolved
    starts_at_ns: int
    ends_at_ns: int | None
    value: str
    annotations: tuple[tuple[str, str], ...] = ()

    def to_dict(self) -> dict:
        """The JSON shape `mdc alerts replay` prints (Alertmanager's field names)."""
        return {
            "alertname": self.alertname,
            "labels": dict(self.labels),
            "status": self.status,
            "startsAt": format_rfc3339_ns(self.starts_at_ns),
            "endsAt": ZERO_TIME if self.ends_at_ns is None else format_rfc3339_ns(self.ends_at_ns),
            "value": self.value,
        }


class Alert:
    """One rule's alert for one label set, and where its ticks have got to."""

    __slots__ = ("active_at", "fired_at", "instrument", "labels", "rule", "state", "tick", "venue")

    def __init__(
        self,
        rule: Rule,
        labels: tuple[tuple[str, str], ...],
        instrument: InstrumentState | None,
        venue: VenueState,
        tick: int,
    ) -> None:
        self.rule, self.labels = rule, labels
        self.instrument = instrument
        self.venue = venue
        self.state = AlertState.INACTIVE
        self.active_at = self.fired_at = 0
        self.tick = tick


class AlertEvaluator:
    def __init__(self, rules: Sequence[Rule], tick_ns: int = DEFAULT_TICK_NS) -> None:
        if tick_ns <= 0:
            raise ValueError("tick_ns must be positive")
        self.rules, self.tick_ns = list(rules), tick_ns
        self._by_stream = {s: [r for r in rules if s in r.streams] for s in STREAMS}
        windowed = [r.window_ns for r in rules if "previous_price" in r.condition.fields]
        self._keep_ns = max(windowed, default=0)
        self._venues: dict[str, VenueState] = {}
        self._instruments: dict[tuple[str, str], InstrumentState] = {}
        self._alerts: dict[tuple[str, str, str], Alert] = {}  # rule, venue, symbol ("": venue)
        self._clocked: list[Alert] = []
        self._routes: dict[tuple[str, str, str], list[Alert]] = {}
        """(stream, venue, symbol) -> the alerts its events update (alerts are never dropped)."""
        self._scope = Scope()
        self._out: list[Transition] = []
        self._advanced = -1

    def feed(self, event: Event) -> list[Transition]:
        """Apply one stored event (any type; the ones no rule reads pass by)."""
        kind = type(event)
        if kind is Trade:
            if not event.aggregate and self._by_stream["trades"]:
                self._on_instrument(event, "trades")
        elif kind is Quote:
            if self._by_stream["quotes"]:
                self._on_instrument(event, "quotes")
        elif kind is Status and event.symbol == "" and self._by_stream["status"]:
            self._on_status(event)
        return self._drain()

    def advance(self, now_ns: int) -> list[Transition]:
        """Run every clocked alert's ticks up to `now_ns` (inclusive)."""
        reached = now_ns - now_ns % self.tick_ns
        if reached <= self._advanced:
            return self._drain()
        self._advanced = reached
        for alert in self._clocked:
            self._tick(alert, now_ns + 1)
        return self._drain()

    def snapshot(self) -> dict:
        """Everything the evaluator knows, as plain values (msgpack/JSON): restored by
        `restore`, a restarted evaluator goes on exactly where this one was."""
        return {
            "tick_ns": self.tick_ns,
            "advanced": self._advanced,
            "venues": {v: s.provider_status for v, s in self._venues.items()},
            "instruments": [[v, s, i.to_state()] for (v, s), i in self._instruments.items()],
            "alerts": [
                [*key, a.state.value, a.active_at, a.fired_at, a.tick]
                for key, a in self._alerts.items()
            ],
        }

    @classmethod
    def restore(cls, rules: Sequence[Rule], snapshot: dict) -> AlertEvaluator:
        """An evaluator from `snapshot`; alerts of rules no longer in `rules` are dropped."""
        evaluator = cls(rules, snapshot["tick_ns"])
        evaluator._advanced = snapshot["advanced"]
        for venue, status in snapshot["venues"].items():
            evaluator._venue(venue).provider_status = status
        for venue, symbol, state in snapshot["instruments"]:
            evaluator._instrument(venue, symbol).from_state(state)
        by_name = {rule.name: rule for rule in rules}
        for name, venue, symbol, state, active_at, fired_at, tick in snapshot["alerts"]:
            if name in by_name:
                alert = evaluator._alert(by_name[name], venue, symbol, tick)
                alert.state, alert.tick = AlertState(state), tick
                alert.active_at, alert.fired_at = active_at, fired_at
        return evaluator

    def alerts(self) -> list[Alert]:
        """The alerts pending or firing now."""
        return [a for a in self._alerts.values() if a.state is not AlertState.INACTIVE]

    def _drain(self) -> list[Transition]:
        out, self._out = self._out, []
        return out

    def _on_instrument(self, event: Trade | Quote, stream: str) -> None:
        venue, symbol, now = event.venue, event.symbol, event.ts_recv
        instrument = self._instrument(venue, symbol)
        alerts = self._routes.get((stream, venue, symbol))
        if alerts is None:  # the instrument's first event of the stream: its alerts, made once
            alerts = self._routes[(stream, venue, symbol)] = [
                self._alert(rule, venue, symbol, now)
                for rule in self._by_stream[stream]
                if rule.wants(venue, symbol)
            ]
        for alert in alerts:
            self._tick(alert, now)
        if stream == "trades":
            instrument.apply_trade(event, self._keep_ns)
        else:
            instrument.apply_quote(event)
        for alert in alerts:
            self._evaluate(alert, now)

    def _on_status(self, status: Status) -> None:
        venue, now = status.venue, status.ts_recv
        alerts = [
            self._alert(rule, venue, "", now)
            for rule in self._by_stream["status"]
            if rule.per_venue and rule.wants(venue, "")
        ]
        alerts += [
            alert
            for (_, alert_venue, symbol), alert in self._alerts.items()
            if alert_venue == venue and symbol and "status" in alert.rule.streams
        ]
        for alert in alerts:
            self._tick(alert, now)
        self._venue(venue).apply(status)
        for alert in alerts:
            self._evaluate(alert, now)

    def _venue(self, venue: str) -> VenueState:
        state = self._venues.get(venue)
        if state is None:
            state = self._venues[venue] = VenueState()
        return state

    def _instrument(self, venue: str, symbol: str) -> InstrumentState:
        state = self._instruments.get((venue, symbol))
        if state is None:
            state = self._instruments[(venue, symbol)] = InstrumentState(self._venue(venue))
        return state

    def _alert(self, rule: Rule, venue: str, symbol: str, now: int) -> Alert:
        key = (rule.name, venue, symbol)
        alert = self._alerts.get(key)
        if alert is None:
            labels = {"alertname": rule.name, "severity": rule.severity, "venue": venue}
            if symbol:
                labels["symbol"] = symbol
            labels.update(rule.labels)
            instrument = self._instrument(venue, symbol) if symbol else None
            first_tick = now - now % self.tick_ns
            alert = Alert(
                rule, tuple(sorted(labels.items())), instrument, self._venue(venue), first_tick
            )
            self._alerts[key] = alert
            if rule.clocked:
                self._clocked.append(alert)
        return alert

    def _tick(self, alert: Alert, before_ns: int) -> None:
        """Evaluate a clocked alert at each of its ticks before `before_ns`."""
        if not alert.rule.clocked:
            return
        step = self.tick_ns
        at = alert.tick + step
        while at < before_ns:
            self._evaluate(alert, at)
            alert.tick = at
            at += step

    def _evaluate(self, alert: Alert, now: int) -> None:
        scope = self._scope
        scope.instrument, scope.venue = alert.instrument, alert.venue
        scope.now_ns, scope.window_ns = now, alert.rule.window_ns
        condition = alert.rule.condition
        if condition.holds(scope) is True:
            if alert.state is AlertState.INACTIVE:
                alert.state, alert.active_at = AlertState.PENDING, now
            if alert.state is AlertState.PENDING and now - alert.active_at >= condition.for_ns:
                alert.state, alert.fired_at = AlertState.FIRING, now
                self._emit(alert, "firing", None)
        elif alert.state is AlertState.FIRING:
            self._emit(alert, "resolved", now)
            alert.state = AlertState.INACTIVE
        else:
            alert.state = AlertState.INACTIVE

    def _emit(self, alert: Alert, status: str, ends_at: int | None) -> None:
        condition = alert.rule.condition
        value = format_value(condition.value(self._scope), condition.value_kind)
        self._out.append(
            Transition(
                alert.rule.name,
                alert.labels,
                status,
                alert.fired_at,
                ends_at,
                value,
                alert.rule.annotations,
            )
        )


STREAMS = ("trades", "quotes", "status")
"""What rules read: the store's stream families of the same names (followers read no others)."""


def format_value(value: Value, kind: Kind) -> str:
    """Exact text: numbers as plain decimals, durations in seconds, unknown as ''."""
    if value is None:
        return ""
    if kind is Kind.DURATION:
        value = Decimal(value) / NS
    if isinstance(value, Decimal):
        return format(value.normalize(), "f")
    return str(value)


def evaluate_stored(
    rules: Sequence[Rule], events: Iterable[Event], until_ns: int | None = None
) -> Iterable[Transition]:
    """Transitions of stored events in receive-time order (`Store.iter_events`), ticks run up
    to just before each event and, at the end, up to `until_ns` (default: the last event)."""
    evaluator = AlertEvaluator(rules)
    last = None
    for event in events:
        yield from evaluator.advance(event.ts_recv - 1)
        yield from evaluator.feed(event)
        last = event.ts_recv
    end = until_ns if until_ns is not None else last
    if end is not None:
        yield from evaluator.advance(end)
