"""Microsoft Teams: an Adaptive Card for a Workflows webhook (the default), or a MessageCard for
an Office 365 connector while Microsoft still runs them (they are being retired).

    msteams_configs:
      - webhook_url_env: MDC_TEAMS_WEBHOOK_URL  # the default; the URL itself is the secret
        card: adaptive                          # or messagecard, for an Office 365 connector
        rate_per_s: 2
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
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
from mdc.alerts.dispatch import Notification

THEME_COLORS = {"Attention": "D13438", "Warning": "FFA500", "Good": "2DC72D"}
"""The MessageCard's themeColor (hex RGB) for each Adaptive Card color, so both cards agree."""


def color(notification: Notification) -> str:
    """The Adaptive Card color: Good once resolved, Attention for critical or error, else
    Warning."""
    if notification.status == "resolved":
        return "Good"
    return "Attention" if severity(notification) in ("critical", "error") else "Warning"


def text(notification: Notification) -> str:
    """One alert a paragraph: Teams joins lines split by a single newline."""
    return "\n\n".join(alert_line(a) for a in notification.alerts)


def adaptive_card(notification: Notification) -> dict[str, Any]:
    heading = {
        "type": "TextBlock",
        "text": title(notification),
        "weight": "Bolder",
        "size": "Medium",
        "wrap": True,
        "style": "heading",
        "color": color(notification),
    }
    card = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.2",
        "body": [heading, {"type": "TextBlock", "text": text(notification), "wrap": True}],
        "msteams": {"width": "full"},
    }
    attachment = {
        "contentType": "application/vnd.microsoft.card.adaptive",
        "contentUrl": None,
        "content": card,
    }
    return {"type": "message", "attachments": [attachment]}


def message_card(notification: Notification) -> dict[str, Any]:
    """The legacy connector card; its one section lists the labels all the alerts share."""
    facts = [{"name": k, "value": v} for k, v in notification.common_labels().items()]
    return {
        "@type": "MessageCard",
        "@context": "http://schema.org/extensions",
        "themeColor": THEME_COLORS[color(notification)],
        "summary": title(notification),
        "title": title(notification),
        "text": text(notification),
        "sections": [{"facts": facts}],
    }


CARDS: dict[str, Callable[[Notification], dict[str, Any]]] = {
    "adaptive": adaptive_card,
    "messagecard": message_card,
}


class MsTeams:
    kind: ClassVar[str] = "msteams"

    def __init__(self, config: Mapping[str, Any], env: Mapping[str, str]) -> None:
        check_keys(config, {"webhook_url_env", "card", "rate_per_s"}, self.kind)
        self.url = secret(config, env, "webhook_url", "MDC_TEAMS_WEBHOOK_URL", self.kind)
        card = str(config.get("card", "adaptive"))
        if card not in CARDS:
            raise ChannelConfigError(
                f"msteams: set 'card' to adaptive (a Workflows webhook) or messagecard "
                f"(an Office 365 connector), not {card!r}"
            )
        self.card = CARDS[card]
        self.rate_per_s = rate(config, 2, self.kind)

    def render(self, notification: Notification) -> list[Outgoing]:
        body = orjson.dumps(self.card(notification))
        return [HttpPost(self.url, (JSON_CONTENT,), body)]
