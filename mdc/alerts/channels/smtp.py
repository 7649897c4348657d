"""E-mail over SMTP (Alertmanager's email_configs): one multipart/alternative message (plain
text, then HTML) to every address of `to`, through `smarthost`, with STARTTLS unless turned off.

    email_configs:
      - to: [oncall@example.com]
        from: alerts@example.com
        smarthost: smtp.example.com:587         # host:port ([::1]:25 for IPv6)
        starttls: true                          # the default
        auth_username: alerts@example.com       # optional; then the password is read from
        auth_password_env: MDC_SMTP_PASSWORD    # this variable (the default)
        rate_per_s: 2

The message depends on the notification alone: Date is the notification's time and Message-ID
comes from its dedup key and time, so a retried send is the same message (receivers dedupe it).
"""

from __future__ import annotations

import email.policy
from collections.abc import Mapping
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Any, ClassVar

from mdc.alerts.channels.base import (
    ChannelConfigError,
    Outgoing,
    SmtpMail,
    check_keys,
    rate,
    secret,
)
from mdc.alerts.channels.mailtext import address, addresses, flag, mail_parts
from mdc.alerts.dispatch import Notification
from mdc.timefmt import NS

KEYS = {"to", "from", "smarthost", "starttls", "auth_username", "auth_password_env", "rate_per_s"}
LOOPBACK = {"localhost", "127.0.0.1", "::1"}


class Smtp:
    kind: ClassVar[str] = "email"

    def __init__(self, config: Mapping[str, Any], env: Mapping[str, str]) -> None:
        check_keys(config, KEYS, self.kind)
        self.to = addresses(config, "to", self.kind)
        self.sender = address(config.get("from"), "from", self.kind)
        self.host, self.port = _smarthost(config.get("smarthost"))
        self.starttls = flag(config, "starttls", True, self.kind)
        self.username, self.password = self._auth(config, env)
        self.rate_per_s = rate(config, 2, self.kind)

    def _auth(
        self, config: Mapping[str, Any], env: Mapping[str, str]
    ) -> tuple[str | None, str | None]:
        """Credentials only with a user name, and never in clear over a network (Go's
        PlainAuth, which Alertmanager uses, refuses that too)."""
        if "auth_username" not in config:
            if "auth_password_env" in config:
                raise ChannelConfigError(
                    "email: 'auth_password_env' is set but 'auth_username' is not; set both"
                )
            return None, None
        if not self.starttls and self.host not in LOOPBACK:
            raise ChannelConfigError(
                "email: without starttls the password would cross the network in clear; "
                "set starttls: true (or use a loopback smarthost)"
            )
        password = secret(config, env, "auth_password", "MDC_SMTP_PASSWORD", self.kind)
        return str(config["auth_username"]), password

    def render(self, notification: Notification) -> list[Outgoing]:
        return [
            SmtpMail(
                self.host,
                self.port,
                self.starttls,
                self.username,
                self.password,
                self.sender,
                self.to,
                self.message(notification),
            )
        ]

    def message(self, notification: Notification) -> bytes:
        """The RFC 5322 message, with CRLF line ends as SMTP wants (smtplib sends bytes as
        they are), and nothing from the clock or a random source."""
        subject, text, markup = mail_parts(notification)
        msg = EmailMessage(policy=email.policy.SMTP)
        msg["Subject"] = subject
        msg["From"] = self.sender
        msg["To"] = ", ".join(self.to)
        at = datetime.fromtimestamp(notification.at_ns // NS, UTC)
        msg["Date"] = format_datetime(at)
        msg["Message-ID"] = f"<{notification.dedup_key}.{notification.at_ns}@mdc>"
        msg.set_content(text)
        msg.add_alternative(markup, subtype="html")
        msg.set_boundary(f"=_mdc_{notification.dedup_key[:40]}")  # not random: same bytes
        return msg.as_bytes()


def _smarthost(value: Any) -> tuple[str, int]:
    """'host:port' -> (host, port); the port is required, as in Alertmanager."""
    host, _, port = str(value or "").rpartition(":")
    host = host.removeprefix("[").removesuffix("]")
    if not (host and port.isascii() and port.isdigit() and 0 < int(port) < 65536):
        raise ChannelConfigError(
            f"email: set 'smarthost' to host:port, like smtp.example.com:587 (got {value!r})"
        )
    return host, int(port)
