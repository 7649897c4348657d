"""OpsGenie (Alert API v2) behind the generic incident adapter: a firing group creates an alert
whose alias is the group's dedup key, and the resolve closes the alert with that alias.

OpsGenie's vendor ends support on 2027-04-05. Its successor is one more `IncidentChannel`
subclass (a `trigger` and a `resolve`); routes, grouping and the delivery shell stay as they are.

    opsgenie_configs:
      - api_key_env: MDC_OPSGENIE_API_KEY     # the default; the key itself never goes in the file
        url: https://api.eu.opsgenie.com      # default https://api.opsgenie.com
        responders: [{type: team, name: market-data}]   # optional
        tags: [mdc, market-data]              # optional
        rate_per_s: 5
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import orjson

from mdc.alerts.channels.base import (
    JSON_CONTENT,
    ChannelConfigError,
    HttpPost,
    Outgoing,
    alert_line,
    check_keys,
    rate,
    secret,
    severity,
    title,
)
from mdc.alerts.channels.incident import IncidentChannel
from mdc.alerts.dispatch import Notification

SOURCE = "mdc"
# OpsGenie's field limits, in characters.
MESSAGE_LIMIT = 130
DESCRIPTION_LIMIT = 15_000
NOTE_LIMIT = 25_000
TAG_COUNT, TAG_LENGTH = 20, 50
PRIORITY = {"critical": "P1", "error": "P2", "warning": "P3", "info": "P4"}
RESPONDER_TYPES = {"team", "user", "escalation", "schedule"}


class OpsGenie(IncidentChannel):
    kind: ClassVar[str] = "opsgenie"

    def __init__(self, config: Mapping[str, Any], env: Mapping[str, str]) -> None:
        check_keys(config, {"api_key_env", "url", "responders", "tags", "rate_per_s"}, self.kind)
        key = secret(config, env, "api_key", "MDC_OPSGENIE_API_KEY", self.kind)
        self.headers = (JSON_CONTENT, ("Authorization", f"GenieKey {key}"))
        self.url = str(config.get("url", "https://api.opsgenie.com")).rstrip("/")
        self.responders = _responders(config.get("responders", []))
        self.tags = _tags(config.get("tags", []))
        self.rate_per_s = rate(config, 5, self.kind)

    def trigger(self, notification: Notification) -> list[Outgoing]:
        common = notification.common_labels()
        lines = "\n".join(alert_line(a) for a in notification.alerts)
        body: dict[str, Any] = {
            "alias": notification.dedup_key,
            "message": _clip(title(notification), MESSAGE_LIMIT),
            "description": _clip(lines, DESCRIPTION_LIMIT),
            "details": common,
            "source": SOURCE,
            "responders": self.responders,
            "tags": self.tags,
            "priority": PRIORITY[severity(notification)],
        }
        if "venue" in common:
            body["entity"] = common["venue"]
        return [self._post(f"{self.url}/v2/alerts", body)]

    def resolve(self, notification: Notification) -> list[Outgoing]:
        url = f"{self.url}/v2/alerts/{notification.dedup_key}/close?identifierType=alias"
        return [self._post(url, {"source": SOURCE, "note": _clip(title(notification), NOTE_LIMIT)})]

    def _post(self, url: str, body: dict[str, Any]) -> HttpPost:
        return HttpPost(url, self.headers, orjson.dumps(body))


def _clip(text: str, limit: int) -> str:
    """`text` within OpsGenie's `limit`, its cut marked with an ellipsis."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _responders(value: Any) -> list[dict[str, str]]:
    """OpsGenie's responder objects, checked here so a typo fails at start, not at 3 a.m."""
    if not isinstance(value, list) or not all(_is_responder(r) for r in value):
        raise ChannelConfigError(
            "opsgenie: 'responders' is a list like [{type: team, name: market-data}] "
            f"(type one of {', '.join(sorted(RESPONDER_TYPES))}; with id, name or username)"
        )
    return [dict(r) for r in value]


def _is_responder(value: Any) -> bool:
    return (
        isinstance(value, Mapping)
        and value.get("type") in RESPONDER_TYPES
        and bool({"id", "name", "username"} & set(value))
    )


def _tags(value: Any) -> list[str]:
    if not (
        isinstance(value, list)
        and len(value) <= TAG_COUNT
        and all(isinstance(t, str) and 0 < len(t) <= TAG_LENGTH for t in value)
    ):
        raise ChannelConfigError(
            f"opsgenie: 'tags' is a list of at most {TAG_COUNT} strings of at most "
            f"{TAG_LENGTH} characters"
        )
    return list(value)
