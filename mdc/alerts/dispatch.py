"""From alert transitions to notifications, with Alertmanager's semantics (sans-I/O: the
caller passes the time and carries out the notifications).

An alert (identified by its labels' fingerprint) goes to the groups of the routes it matches;
a new group waits `group_wait`, then is flushed every `group_interval`. At a flush, inhibited
and silenced alerts are left out, and each channel of the receiver is notified only when the
notification log says so (`needs_update`, Alertmanager's DedupStage): the first time something
fires, when a new alert fires in the group, when all have resolved after a notification that had
firing ones, when some newly resolved (if the channel sends resolved), else once
`repeat_interval` has passed. An alert that fires and resolves between two flushes is never
sent. Resolved alerts leave the group after the flush that saw them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from mdc.alerts.evaluator import Transition
from mdc.alerts.matchers import Matcher, all_match
from mdc.alerts.routing import InhibitRule, Integration, Route, Routing


def fingerprint(labels: Iterable[tuple[str, str]]) -> str:
    """A stable 16-hex-digit id of a label set (Alertmanager's fingerprint plays this part)."""
    text = "\x00".join(f"{k}\x01{v}" for k, v in sorted(labels))
    return hashlib.blake2b(text.encode(), digest_size=8).hexdigest()


@dataclass
class AlertRecord:
    """The dispatcher's copy of an alert: the latest transition for its labels."""

    labels: dict[str, str]
    fingerprint: str
    starts_at_ns: int
    ends_at_ns: int | None  # None while firing
    value: str
    annotations: dict[str, str] = field(default_factory=dict)

    @property
    def firing(self) -> bool:
        return self.ends_at_ns is None


@dataclass(frozen=True)
class LogEntry:
    """What was last sent for one group to one channel (Alertmanager's nflog entry)."""

    firing: frozenset[str]
    resolved: frozenset[str]
    at_ns: int


@dataclass(frozen=True)
class Notification:
    """One message for one channel: the group's alerts at a flush, muted ones left out."""

    receiver: str
    integration: Integration
    group_key: str
    group_labels: tuple[tuple[str, str], ...]
    alerts: tuple[AlertRecord, ...]
    at_ns: int

    @property
    def status(self) -> str:
        return "firing" if any(a.firing for a in self.alerts) else "resolved"

    @property
    def dedup_key(self) -> str:
        """A hash of the group key: PagerDuty's dedup_key and OpsGenie's alias, so the resolve
        closes the incident the trigger opened."""
        return hashlib.sha256(self.group_key.encode()).hexdigest()

    def to_dict(self) -> dict:
        """Plain values (no secrets: the channel's config is not included), for the file of
        undelivered notifications; `notification_from_dict` reads it back."""
        return {
            "receiver": self.receiver,
            "integration": self.integration.name,
            "group_key": self.group_key,
            "group_labels": [list(pair) for pair in self.group_labels],
            "alerts": [
                [a.labels, a.starts_at_ns, a.ends_at_ns, a.value, a.annotations]
                for a in self.alerts
            ],
            "at_ns": self.at_ns,
        }

    def common_labels(self) -> dict[str, str]:
        first, *rest = [a.labels for a in self.alerts]
        return {k: v for k, v in first.items() if all(r.get(k) == v for r in rest)}


def notification_from_dict(data: dict, routing: Routing) -> Notification:
    """A saved notification for today's channel of the same name; KeyError if it is gone."""
    receiver = data["receiver"]
    by_name = {i.name: i for i in routing.receivers[receiver]}
    alerts = tuple(
        AlertRecord(labels, fingerprint(labels.items()), starts, ends, value, notes)
        for labels, starts, ends, value, notes in data["alerts"]
    )
    return Notification(
        receiver,
        by_name[data["integration"]],
        data["group_key"],
        tuple(tuple(pair) for pair in data["group_labels"]),
        alerts,
        data["at_ns"],
    )


@dataclass(frozen=True)
class Silence:
    id: str
    matchers: tuple[Matcher, ...]
    starts_at_ns: int
    ends_at_ns: int
    created_by: str = ""
    comment: str = ""

    def active(self, now_ns: int) -> bool:
        return self.starts_at_ns <= now_ns < self.ends_at_ns

    def mutes(self, labels: Mapping[str, str], now_ns: int) -> bool:
        return self.active(now_ns) and all_match(self.matchers, labels)


def needs_update(
    entry: LogEntry | None,
    firing: frozenset[str],
    resolved: frozenset[str],
    *,
    send_resolved: bool,
    repeat_ns: int,
    now_ns: int,
) -> bool:
    """Alertmanager's DedupStage.needsUpdate, rule for rule."""
    if entry is None:
        return bool(firing)
    if not firing <= entry.firing:
        return True
    if not firing:
        return bool(entry.firing)
    if send_resolved and not resolved <= entry.resolved:
        return True
    return entry.at_ns < now_ns - repeat_ns


@dataclass
class Group:
    route: Route
    key: str
    labels: tuple[tuple[str, str], ...]
    next_flush_ns: int
    alerts: dict[str, AlertRecord] = field(default_factory=dict)
    flushed: bool = False


class Dispatcher:
    def __init__(self, routing: Routing) -> None:
        self.routing = routing
        self.alerts: dict[str, AlertRecord] = {}
        self.groups: dict[str, Group] = {}
        self.log: dict[tuple[str, str, str], LogEntry] = {}  # receiver, channel, group key
        self.silences: dict[str, Silence] = {}

    def add(self, transition: Transition, now_ns: int) -> None:
        """An alert fired or resolved: it joins (or updates) its groups."""
        labels = dict(transition.labels)
        record = AlertRecord(
            labels,
            fingerprint(transition.labels),
            transition.starts_at_ns,
            transition.ends_at_ns,
            transition.value,
            dict(transition.annotations),
        )
        self._place(record, now_ns)

    def _place(self, record: AlertRecord, now_ns: int) -> None:
        self.alerts[record.fingerprint] = record
        for route in self.routing.route.match(record.labels):
            group = self._group(route, record.labels, record, now_ns)
            group.alerts[record.fingerprint] = record

    def snapshot(self) -> dict:
        """The alerts and the notification log as plain values (silences live in their own
        file). Groups are not saved: `restore` rebuilds them, and the log keeps what was sent
        from being sent again."""
        return {
            "alerts": [
                [a.labels, a.starts_at_ns, a.ends_at_ns, a.value, a.annotations]
                for a in self.alerts.values()
            ],
            "log": [
                [*key, sorted(e.firing), sorted(e.resolved), e.at_ns] for key, e in self.log.items()
            ],
        }

    @classmethod
    def restore(cls, routing: Routing, snapshot: dict, now_ns: int) -> Dispatcher:
        dispatcher = cls(routing)
        for receiver, channel, group_key, firing, resolved, at_ns in snapshot["log"]:
            entry = LogEntry(frozenset(firing), frozenset(resolved), at_ns)
            dispatcher.log[(receiver, channel, group_key)] = entry
        for labels, starts_at, ends_at, value, notes in snapshot["alerts"]:
            fp = fingerprint(labels.items())
            record = AlertRecord(labels, fp, starts_at, ends_at, value, notes)
            dispatcher._place(record, now_ns)
        return dispatcher

    def _group(self, route: Route, labels: dict, record: AlertRecord, now_ns: int) -> Group:
        group_labels = route.group_labels(labels)
        key = f"{route.id}:{{{','.join(f'{k}={v!r}' for k, v in group_labels)}}}"
        group = self.groups.get(key)
        if group is None:
            wait = route.group_wait_ns
            # An alert older than group_wait is not held back (Alertmanager flushes at once).
            if record.starts_at_ns + wait < now_ns:
                wait = 0
            group = self.groups[key] = Group(route, key, group_labels, now_ns + wait)
        return group

    def next_flush_ns(self) -> int | None:
        return min((g.next_flush_ns for g in self.groups.values()), default=None)

    def flush_due(self, now_ns: int) -> list[Notification]:
        """The notifications of every group whose flush time has come."""
        out: list[Notification] = []
        for group in [g for g in self.groups.values() if g.next_flush_ns <= now_ns]:
            out += self._flush(group, now_ns)
        self._forget_resolved()
        return out

    def _flush(self, group: Group, now_ns: int) -> list[Notification]:
        group.flushed = True
        group.next_flush_ns = now_ns + group.route.group_interval_ns
        shown = [a for a in group.alerts.values() if not self.muted(a, now_ns)]
        firing = frozenset(a.fingerprint for a in shown if a.firing)
        resolved = frozenset(a.fingerprint for a in shown if not a.firing)
        out: list[Notification] = []
        receiver = group.route.receiver
        for integration in self.routing.receivers.get(receiver, ()):
            log_key = (receiver, integration.name, group.key)
            entry = self.log.get(log_key)
            repeat = group.route.repeat_interval_ns
            send_resolved = integration.send_resolved
            update = needs_update(
                entry,
                firing,
                resolved,
                send_resolved=send_resolved,
                repeat_ns=repeat,
                now_ns=now_ns,
            )
            if not update:
                continue
            self.log[log_key] = LogEntry(firing, resolved, now_ns)
            alerts = tuple(a for a in shown if a.firing or send_resolved)
            if alerts:  # all resolved, to a channel that does not send resolved: logged only
                out.append(
                    Notification(receiver, integration, group.key, group.labels, alerts, now_ns)
                )
        for record in [a for a in group.alerts.values() if not a.firing]:
            del group.alerts[record.fingerprint]
        if not group.alerts:
            del self.groups[group.key]
        return out

    def muted(self, record: AlertRecord, now_ns: int) -> bool:
        return self.inhibited(record) or self.silenced(record, now_ns)

    def inhibited(self, record: AlertRecord) -> bool:
        return any(self._inhibits(rule, record) for rule in self.routing.inhibit_rules)

    def _inhibits(self, rule: InhibitRule, target: AlertRecord) -> bool:
        """A firing source with the same `equal` labels mutes the target; an alert matching
        both sides is not muted by a source that does too (so it cannot mute itself)."""
        labels = target.labels
        if not all_match(rule.target, labels):
            return False
        two_sided = all_match(rule.source, labels)
        for source in self.alerts.values():
            if (
                source.firing
                and source.fingerprint != target.fingerprint
                and all_match(rule.source, source.labels)
                and all(source.labels.get(n) == labels.get(n) for n in rule.equal)
                and not (two_sided and all_match(rule.target, source.labels))
            ):
                return True
        return False

    def silenced(self, record: AlertRecord, now_ns: int) -> bool:
        return any(s.mutes(record.labels, now_ns) for s in self.silences.values())

    def _forget_resolved(self) -> None:
        """Resolved alerts no group holds any more leave the store (inhibition reads it)."""
        held = {fp for g in self.groups.values() for fp in g.alerts}
        for fp in [fp for fp, a in self.alerts.items() if not a.firing and fp not in held]:
            del self.alerts[fp]
