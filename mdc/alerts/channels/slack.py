"""Slack (incoming webhook): Block Kit blocks, a header and one section per alert, and a plain
`text` fallback that notifications and older clients show instead.

    slack_configs:
      - webhook_url_env: MDC_SLACK_WEBHOOK_URL  # the default; the URL itself is the secret
        channel: "#market-data"                 # optional; only legacy webhooks honour it
        rate_per_s: 1                           # Slack allows about one message a second
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
    title,
    truncate,
)
from mdc.alerts.dispatch import Notification

MAX_ALERT_SECTIONS = 20
"""Alerts shown one section each; the rest are counted (Slack takes at most 50 blocks)."""
HEADER_CHARS = 150  # Slack refuses a header block with longer text
SECTION_CHARS = 3000  # ... and a section with longer text


def escape(text: str) -> str:
    """Slack's mrkdwn escaping, so a label cannot become a link or an @channel mention."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


class Slack:
    kind: ClassVar[str] = "slack"

    def __init__(self, config: Mapping[str, Any], env: Mapping[str, str]) -> None:
        check_keys(config, {"webhook_url_env", "channel", "rate_per_s"}, self.kind)
        self.url = secret(config, env, "webhook_url", "MDC_SLACK_WEBHOOK_URL", self.kind)
        self.channel = str(config.get("channel", ""))
        self.rate_per_s = rate(config, 1, self.kind)

    def render(self, notification: Notification) -> list[Outgoing]:
        alerts = notification.alerts
        lines = [escape(alert_line(a)) for a in alerts[:MAX_ALERT_SECTIONS]]
        more = [f"and {len(alerts) - len(lines)} more"] if len(alerts) > len(lines) else []
        head = title(notification)
        blocks: list[dict[str, Any]] = [
            {"type": "header", "text": {"type": "plain_text", "text": truncate(head, HEADER_CHARS)}}
        ]
        blocks += [
            {"type": "section", "text": {"type": "mrkdwn", "text": truncate(line, SECTION_CHARS)}}
            for line in lines
        ]
        blocks += [{"type": "context", "elements": [{"type": "mrkdwn", "text": m}]} for m in more]
        message: dict[str, Any] = {
            "text": "\n".join([escape(head), *lines, *more]),
            "blocks": blocks,
        }
        if self.channel:
            message["channel"] = self.channel
        body = orjson.dumps(message)
        return [HttpPost(self.url, (JSON_CONTENT,), body)]
