"""PagerDuty (Events API v2): a firing group triggers one incident under the group's dedup key,
so the resolve closes that same incident however often the group was re-sent.

    pagerduty_configs:
      - routing_key_env: MDC_PAGERDUTY_ROUTING_KEY   # the default; the integration key is secret
        source: mdc                                  # the incident's source
        url: https://events.pagerduty.com/v2/enqueue # the default
        rate_per_s: 5
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import orjson

from mdc.alerts.channels.base import (
    JSON_CONTENT,
    HttpPost,
    Outgoing,
    alert_line,
    check_keys,
    rate,
    secret,
    severity,
    title,
    truncate,
)
from mdc.alerts.dispatch import Notification
from mdc.timefmt import format_rfc3339_ns

EVENTS_URL = "https://events.pagerduty.com/v2/enqueue"
MAX_SUMMARY_CHARS = 1024
MAX_BODY_BYTES = 512_000
"""PagerDuty refuses an event over 512 kB: alert lines are dropped from the end to fit."""


class PagerDuty:
    kind: ClassVar[str] = "pagerduty"

    def __init__(self, config: Mapping[str, Any], env: Mapping[str, str]) -> None:
        check_keys(config, {"routing_key_env", "url", "source", "rate_per_s"}, self.kind)
        self.routing_key = secret(
            config, env, "routing_key", "MDC_PAGERDUTY_ROUTING_KEY", self.kind
        )
        self.url = str(config.get("url", EVENTS_URL))
        self.source = str(config.get("source", "mdc"))
        self.rate_per_s = rate(config, 5, self.kind)

    def render(self, notification: Notification) -> list[Outgoing]:
        if notification.status == "resolved":
            body = orjson.dumps(
                {
                    "routing_key": self.routing_key,
                    "dedup_key": notification.dedup_key,
                    "event_action": "resolve",
                }
            )
        else:
            body = self._trigger(notification)
        return [HttpPost(self.url, (JSON_CONTENT,), body)]

    def _trigger(self, notification: Notification) -> bytes:
        """The trigger with as many alert lines as fit under the limit. Each dropped line takes
        at least 3 bytes (`"",`) and its count adds at most one digit, so the body shrinks with
        every line dropped and a binary search finds the most that fit."""
        lines = [alert_line(a) for a in notification.alerts]
        body = self._encode(notification, lines, len(lines))
        if len(body) <= MAX_BODY_BYTES:
            return body
        fits, over = 0, len(lines)  # keeping `over` lines is too big; `fits` is the floor
        while over - fits > 1:
            mid = (fits + over) // 2
            if len(self._encode(notification, lines, mid)) <= MAX_BODY_BYTES:
                fits = mid
            else:
                over = mid
        return self._encode(notification, lines, fits)

    def _encode(self, notification: Notification, lines: list[str], keep: int) -> bytes:
        common = notification.common_labels()
        payload: dict[str, Any] = {
            "summary": truncate(title(notification), MAX_SUMMARY_CHARS),
            "source": self.source,
            "severity": severity(notification),
            "timestamp": format_rfc3339_ns(min(a.starts_at_ns for a in notification.alerts)),
        }
        for field, label in (("component", "venue"), ("group", "alertname")):
            if label in common:
                payload[field] = common[label]
        details: dict[str, Any] = {"alerts": lines[:keep]}
        if keep < len(lines):
            details["alerts_dropped"] = len(lines) - keep
        payload |= {"class": "market-data", "custom_details": details}
        event = {
            "routing_key": self.routing_key,
            "event_action": "trigger",
            "dedup_key": notification.dedup_key,
            "payload": payload,
            "client": "mdc",
        }
        return orjson.dumps(event)
