"""E-mail through SendGrid's v3 Mail Send API: one POST per notification, every address of `to`
in one personalization (so, as with SMTP's To header, they see each other).

    sendgrid_configs:
      - api_key_env: MDC_SENDGRID_API_KEY     # the default; the key itself never goes in the file
        to: [oncall@example.com, md-team@example.com]
        from: alerts@example.com              # a sender verified in SendGrid
        from_name: mdc alerts                 # optional
        sandbox: false                        # true: SendGrid checks the mail, sends nothing
        rate_per_s: 5
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import orjson

from mdc.alerts.channels.base import JSON_CONTENT, HttpPost, Outgoing, check_keys, rate, secret
from mdc.alerts.channels.mailtext import address, addresses, flag, mail_parts
from mdc.alerts.dispatch import Notification

KEYS = {"api_key_env", "to", "from", "from_name", "url", "sandbox", "rate_per_s"}


class SendGrid:
    kind: ClassVar[str] = "sendgrid"

    def __init__(self, config: Mapping[str, Any], env: Mapping[str, str]) -> None:
        check_keys(config, KEYS, self.kind)
        key = secret(config, env, "api_key", "MDC_SENDGRID_API_KEY", self.kind)
        self.headers = (JSON_CONTENT, ("Authorization", f"Bearer {key}"))
        self.url = str(config.get("url", "https://api.sendgrid.com/v3/mail/send"))
        self.to = addresses(config, "to", self.kind)
        self.sender = {"email": address(config.get("from"), "from", self.kind)}
        if "from_name" in config:
            self.sender["name"] = str(config["from_name"])
        self.sandbox = flag(config, "sandbox", False, self.kind)
        self.rate_per_s = rate(config, 5, self.kind)

    def render(self, notification: Notification) -> list[Outgoing]:
        subject, text, markup = mail_parts(notification)
        body = {
            "personalizations": [{"to": [{"email": a} for a in self.to]}],
            "from": self.sender,
            "subject": subject,
            # SendGrid requires text/plain before text/html.
            "content": [
                {"type": "text/plain", "value": text},
                {"type": "text/html", "value": markup},
            ],
            "mail_settings": {"sandbox_mode": {"enable": self.sandbox}},
        }
        return [HttpPost(self.url, self.headers, orjson.dumps(body))]
