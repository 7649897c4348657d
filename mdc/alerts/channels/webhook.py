"""A generic webhook: Alertmanager's webhook body, so existing tooling reads it, signed with
HMAC-SHA256 over the exact body bytes when a secret is set.

    webhook_configs:
      - url: https://hooks.example.com/mdc      # or url_env: NAME
        hmac_secret_env: MDC_WEBHOOK_SECRET       # optional; then every post is signed
        rate_per_s: 5
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from typing import Any, ClassVar

import orjson

from mdc.alerts.channels.base import (
    JSON_CONTENT,
    ChannelConfigError,
    HttpPost,
    Outgoing,
    alertmanager_body,
    check_keys,
    rate,
    secret,
)
from mdc.alerts.dispatch import Notification

SIGNATURE_HEADER = "X-MDC-Signature-256"
"""`sha256=<hex HMAC-SHA256 of the body>` (GitHub's scheme): a receiver recomputes it."""


class Webhook:
    kind: ClassVar[str] = "webhook"

    def __init__(self, config: Mapping[str, Any], env: Mapping[str, str]) -> None:
        check_keys(config, {"url", "url_env", "hmac_secret_env", "rate_per_s"}, self.kind)
        if "url" in config:
            self.url = str(config["url"])
        elif "url_env" in config:
            self.url = secret(config, env, "url", str(config["url_env"]), self.kind)
        else:
            raise ChannelConfigError("webhook: set 'url' (or 'url_env' naming a variable)")
        self.secret: bytes | None = None
        if "hmac_secret_env" in config:
            key = secret(config, env, "hmac_secret", "", self.kind)
            self.secret = key.encode()
        self.rate_per_s = rate(config, 10, self.kind)

    def render(self, notification: Notification) -> list[Outgoing]:
        body = orjson.dumps(alertmanager_body(notification))
        headers = [JSON_CONTENT]
        if self.secret is not None:
            digest = hmac.new(self.secret, body, hashlib.sha256).hexdigest()
            headers.append((SIGNATURE_HEADER, f"sha256={digest}"))
        return [HttpPost(self.url, tuple(headers), body)]
