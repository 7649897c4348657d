"""Where alerts go: Alertmanager's route tree, receivers and inhibition rules, read from the
same YAML file as the rules (`route:`, `receivers:`, `inhibit_rules:`; all optional).

    route:
      receiver: oncall
      group_by: [alertname, venue]
      group_wait: 30s
      group_interval: 5m
      repeat_interval: 4h
      routes:
        - matchers: ["severity=critical"]
          receiver: pager
    receivers:
      - name: oncall
        slack_configs: [{webhook_url_env: SLACK_WEBHOOK_URL}]
      - name: pager
    inhibit_rules:
      - source_matchers: ["alertname=provider_disconnect"]
        target_matchers: ["alertname=~data_gap|crossed_market"]
        equal: [venue]

Without `inhibit_rules`, the one above applies (a disconnected venue's gaps and crossed quotes
are its disconnect's consequences). A child route inherits what it does not set.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from mdc.alerts.expr import parse_duration
from mdc.alerts.matchers import BadMatcher, Matcher, all_match, parse_matchers
from mdc.errors import ConfigError

DEFAULT_GROUP_BY = ("alertname", "venue")
DEFAULT_GROUP_WAIT_NS = 30 * 10**9
DEFAULT_GROUP_INTERVAL_NS = 300 * 10**9
DEFAULT_REPEAT_INTERVAL_NS = 4 * 3600 * 10**9
ALL_LABELS = ("...",)
"""`group_by: ['...']`: every label, so each alert is its own group (Alertmanager's spelling)."""

DEFAULT_RECEIVER = "default"
"""The receiver of a file without `route:`: it has no channels, so nothing is sent."""


class RoutingError(ConfigError):
    pass


@dataclass(frozen=True)
class Integration:
    """One channel of a receiver: its kind (slack, webhook, ...), its place in the receiver
    (`slack/0`) and its raw config, which the channel module checks."""

    kind: str
    index: int
    config: Mapping[str, Any]

    @property
    def name(self) -> str:
        return f"{self.kind}/{self.index}"

    @property
    def send_resolved(self) -> bool:
        return bool(self.config.get("send_resolved", True))


@dataclass(frozen=True)
class Route:
    receiver: str
    id: str = "0"
    matchers: tuple[Matcher, ...] = ()
    group_by: tuple[str, ...] = DEFAULT_GROUP_BY
    group_wait_ns: int = DEFAULT_GROUP_WAIT_NS
    group_interval_ns: int = DEFAULT_GROUP_INTERVAL_NS
    repeat_interval_ns: int = DEFAULT_REPEAT_INTERVAL_NS
    continue_matching: bool = False
    routes: tuple[Route, ...] = ()

    def match(self, labels: Mapping[str, str]) -> list[Route]:
        """The routes an alert goes to: the deepest matching ones, depth first, stopping at the
        first matching child unless it says `continue: true` (Alertmanager's `Route.Match`)."""
        if not all_match(self.matchers, labels):
            return []
        found: list[Route] = []
        for child in self.routes:
            matched = child.match(labels)
            found += matched
            if matched and not child.continue_matching:
                break
        return found or [self]

    def group_labels(self, labels: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
        if self.group_by == ALL_LABELS:
            return tuple(sorted(labels.items()))
        return tuple((name, labels[name]) for name in self.group_by if name in labels)


@dataclass(frozen=True)
class InhibitRule:
    source: tuple[Matcher, ...]
    target: tuple[Matcher, ...]
    equal: tuple[str, ...]


DEFAULT_INHIBIT_RULES = (
    InhibitRule(
        parse_matchers(["alertname=provider_disconnect"]),
        parse_matchers(["alertname=~data_gap|crossed_market"]),
        ("venue",),
    ),
)


@dataclass(frozen=True)
class Routing:
    route: Route = field(default_factory=lambda: Route(DEFAULT_RECEIVER))
    receivers: Mapping[str, tuple[Integration, ...]] = field(
        default_factory=lambda: {DEFAULT_RECEIVER: ()}
    )
    inhibit_rules: tuple[InhibitRule, ...] = DEFAULT_INHIBIT_RULES


_ROUTE_KEYS = {
    "receiver",
    "matchers",
    "group_by",
    "group_wait",
    "group_interval",
    "repeat_interval",
    "continue",
    "routes",
}


def parse_routing(document: Mapping[str, Any], source: str) -> Routing:
    """The `route`, `receivers` and `inhibit_rules` of a loaded YAML document."""
    receivers = _receivers(document.get("receivers"), source)
    if "route" not in document:
        if set(receivers) - {DEFAULT_RECEIVER}:
            raise RoutingError(f"{source}: receivers are listed but there is no 'route:'")
        receivers.setdefault(DEFAULT_RECEIVER, ())
        route = Route(DEFAULT_RECEIVER)
    else:
        route = _route(document["route"], None, "0", f"{source}: route")
    _check_receivers(route, receivers, source)
    inhibit = document.get("inhibit_rules")
    rules = DEFAULT_INHIBIT_RULES if inhibit is None else _inhibit_rules(inhibit, source)
    return Routing(route, receivers, rules)


def _route(entry: Any, parent: Route | None, route_id: str, where: str) -> Route:
    if not isinstance(entry, dict):
        raise RoutingError(f"{where}: expected a mapping")
    unknown = sorted(set(entry) - _ROUTE_KEYS)
    if unknown:
        raise RoutingError(f"{where}: unknown key {unknown[0]!r}")
    if parent is None and "receiver" not in entry:
        raise RoutingError(f"{where}: the top route needs a 'receiver'")
    if parent is None and entry.get("matchers"):
        raise RoutingError(f"{where}: the top route matches every alert; it takes no matchers")
    inherited = parent or Route(str(entry["receiver"]))
    try:
        matchers = parse_matchers(_strings(entry.get("matchers", []), where, "matchers"))
    except BadMatcher as exc:
        raise RoutingError(f"{where}: {exc}") from exc
    group_by = entry.get("group_by")
    route = Route(
        receiver=str(entry.get("receiver", inherited.receiver)),
        id=route_id,
        matchers=matchers,
        group_by=inherited.group_by
        if group_by is None
        else tuple(_strings(group_by, where, "group_by")),
        group_wait_ns=_duration(entry, "group_wait", inherited.group_wait_ns, where),
        group_interval_ns=_duration(entry, "group_interval", inherited.group_interval_ns, where),
        repeat_interval_ns=_duration(entry, "repeat_interval", inherited.repeat_interval_ns, where),
        continue_matching=bool(entry.get("continue", False)),
    )
    children = entry.get("routes", [])
    if not isinstance(children, list):
        raise RoutingError(f"{where}: 'routes' must be a list")
    routes = tuple(
        _route(child, route, f"{route_id}.{i}", f"{where}.routes[{i}]")
        for i, child in enumerate(children)
    )
    return dataclasses.replace(route, routes=routes)


def _duration(entry: Mapping, key: str, default: int, where: str) -> int:
    if key not in entry:
        return default
    try:
        value = parse_duration(str(entry[key]))
    except ValueError as exc:
        raise RoutingError(f"{where}: {key}: {exc}") from exc
    if value <= 0 and key != "group_wait":
        raise RoutingError(f"{where}: {key} must be positive")
    return value


def _strings(value: Any, where: str, key: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise RoutingError(f"{where}: '{key}' must be a list of strings")
    return value


def _receivers(value: Any, source: str) -> dict[str, tuple[Integration, ...]]:
    if value is None:
        return {}
    if not isinstance(value, list):
        raise RoutingError(f"{source}: 'receivers' must be a list")
    out: dict[str, tuple[Integration, ...]] = {}
    for number, entry in enumerate(value, 1):
        where = f"{source}: receivers[{number}]"
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
            raise RoutingError(f"{where}: expected a mapping with a 'name'")
        name = entry["name"]
        if name in out:
            raise RoutingError(f"{where}: the receiver {name!r} is listed twice")
        integrations: list[Integration] = []
        for key, configs in entry.items():
            if key == "name":
                continue
            if not key.endswith("_configs") or not isinstance(configs, list):
                raise RoutingError(f"{where} ({name!r}): expected '<channel>_configs: [...]'")
            kind = key.removesuffix("_configs")
            for index, config in enumerate(configs):
                if not isinstance(config, dict):
                    raise RoutingError(f"{where} ({name!r}): {key}[{index}] must be a mapping")
                integrations.append(Integration(kind, index, config))
        out[name] = tuple(integrations)
    return out


def _check_receivers(route: Route, receivers: Mapping[str, Any], source: str) -> None:
    if route.receiver not in receivers:
        known = ", ".join(sorted(receivers)) or "none"
        raise RoutingError(
            f"{source}: route {route.id} sends to {route.receiver!r}, which is not among the "
            f"receivers ({known})"
        )
    for child in route.routes:
        _check_receivers(child, receivers, source)


def _inhibit_rules(value: Any, source: str) -> tuple[InhibitRule, ...]:
    if not isinstance(value, list):
        raise RoutingError(f"{source}: 'inhibit_rules' must be a list")
    rules = []
    for number, entry in enumerate(value, 1):
        where = f"{source}: inhibit_rules[{number}]"
        if not isinstance(entry, dict):
            raise RoutingError(f"{where}: expected a mapping")
        try:
            source_m = parse_matchers(_strings(entry.get("source_matchers", []), where, "source"))
            target_m = parse_matchers(_strings(entry.get("target_matchers", []), where, "target"))
        except BadMatcher as exc:
            raise RoutingError(f"{where}: {exc}") from exc
        equal = tuple(_strings(entry.get("equal", []), where, "equal"))
        rules.append(InhibitRule(source_m, target_m, equal))
    return tuple(rules)
