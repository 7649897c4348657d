"""One alerting file: the rules (`alerts:`) and where their notifications go (`route:`,
`receivers:`, `inhibit_rules:`), checked whole when loaded, channels included."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from mdc.alerts.channels.base import Channel, ChannelConfigError, build_channel
from mdc.alerts.routing import Routing, RoutingError, parse_routing
from mdc.alerts.rules import Rule, RuleError, read_yaml, rules_of
from mdc.configfile import read_config_text

TOP_LEVEL = ("alerts", "route", "receivers", "inhibit_rules")


@dataclass(frozen=True)
class AlertConfig:
    rules: list[Rule]
    routing: Routing
    channels: Mapping[tuple[str, str], Channel]
    """(receiver, integration name) -> the channel that sends for it."""


def load_alert_config(path: str | Path, env: Mapping[str, str]) -> AlertConfig:
    """The whole file, channels built against `env` (their secrets); RuleError on any fault."""
    source = str(path)
    document = read_yaml(read_config_text(path, "alert rules file", RuleError), source)
    return alert_config_of(document, source, env)


def alert_config_of(document: dict, source: str, env: Mapping[str, str]) -> AlertConfig:
    """The configuration of a loaded YAML document; `source` names it in errors."""
    unknown = sorted(set(document) - set(TOP_LEVEL))
    if unknown:
        raise RuleError(f"{source}: unknown key {unknown[0]!r} (keys: {', '.join(TOP_LEVEL)})")
    rules = rules_of(document, source)
    try:
        routing = parse_routing(document, source)
    except RoutingError as exc:
        raise RuleError(str(exc)) from exc
    channels: dict[tuple[str, str], Channel] = {}
    for receiver, integrations in routing.receivers.items():
        for integration in integrations:
            try:
                channel = build_channel(integration.kind, integration.config, env)
            except ChannelConfigError as exc:
                raise RuleError(f"{source}: receiver {receiver!r}: {exc}") from exc
            channels[(receiver, integration.name)] = channel
    return AlertConfig(rules, routing, channels)
