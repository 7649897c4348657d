"""Notifications as the dispatcher makes them, for channel tests."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mdc.alerts.dispatch import AlertRecord, Notification, fingerprint
from mdc.alerts.routing import Integration

S = 10**9
T0 = 1_796_000_000 * S  # 2026-11-30T...


def alert(
    *,
    name: str = "price_spike",
    severity: str = "warning",
    venue: str = "kraken",
    symbol: str = "BTC-USD",
    resolved: bool = False,
    value: str = "0.06",
    summary: str = "",
) -> AlertRecord:
    labels = {"alertname": name, "severity": severity, "venue": venue, "symbol": symbol}
    annotations = {"summary": summary} if summary else {}
    ends = T0 + 60 * S if resolved else None
    return AlertRecord(labels, fingerprint(labels.items()), T0, ends, value, annotations)


def notification(
    kind: str,
    alerts: list[AlertRecord] | None = None,
    config: Mapping[str, Any] | None = None,
) -> Notification:
    """A notification for the group {alertname, venue} of `alerts` (default: two firing)."""
    alerts = alerts or [alert(), alert(symbol="ETH-USD", value="0.07")]
    first = alerts[0].labels
    group = (("alertname", first["alertname"]), ("venue", first["venue"]))
    key = f"0:{{alertname={first['alertname']!r},venue={first['venue']!r}}}"
    integration = Integration(kind, 0, dict(config or {}))
    return Notification("team", integration, key, group, tuple(alerts), T0 + 30 * S)
