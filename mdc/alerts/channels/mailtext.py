"""What the two e-mail channels (SendGrid's API and SMTP) share: the subject, text and HTML of a
mail, and the checks of addresses and flags in their configs, so both say the same thing the
same way. Not a channel itself.
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from typing import Any, NamedTuple

from mdc.alerts.channels.base import ChannelConfigError, alert_line, title
from mdc.alerts.dispatch import Notification


class MailParts(NamedTuple):
    subject: str
    text: str
    html: str


def mail_parts(notification: Notification) -> MailParts:
    """The subject is one line (a label value with a line break would break the header); the
    HTML part escapes every label value, which the alert's source, not we, controls."""
    subject = " ".join(title(notification).split())
    lines = [alert_line(a) for a in notification.alerts]
    text = "\n".join([subject, "", *lines, ""])
    items = "".join(f"<li>{html.escape(line)}</li>" for line in lines)
    return MailParts(subject, text, f"<h3>{html.escape(subject)}</h3>\n<ul>{items}</ul>\n")


def addresses(config: Mapping[str, Any], key: str, kind: str) -> tuple[str, ...]:
    """A required, non-empty list of distinct addresses (SendGrid refuses a repeated one)."""
    value = config.get(key)
    if not isinstance(value, list) or not value:
        raise ChannelConfigError(f"{kind}: set '{key}' to a list of e-mail addresses")
    found = tuple(address(v, f"{key}[{i}]", kind) for i, v in enumerate(value))
    seen: set[str] = set()
    for item in found:
        if item.lower() in seen:
            raise ChannelConfigError(f"{kind}: '{key}' lists {item!r} twice")
        seen.add(item.lower())
    return found


def address(value: Any, key: str, kind: str) -> str:
    """A bare address, checked minimally: one '@' with text on both sides, no blanks."""
    if not (
        isinstance(value, str)
        and value.count("@") == 1
        and not value.startswith("@")
        and not value.endswith("@")
        and value.isprintable()
        and " " not in value
    ):
        raise ChannelConfigError(
            f"{kind}: set '{key}' to an e-mail address like ops@example.com (got {value!r})"
        )
    return value


def flag(config: Mapping[str, Any], key: str, default: bool, kind: str) -> bool:
    """A true/false setting; the string "false" is refused rather than read as true."""
    value = config.get(key, default)
    if not isinstance(value, bool):
        raise ChannelConfigError(f"{kind}: set '{key}' to true or false (got {value!r})")
    return value
