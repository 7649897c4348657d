"""The notification channel contract (sans-I/O): a channel turns a `Notification` into what to
send (HTTP posts or an e-mail); the delivery shell sends it, retries by `classify`, and
dead-letters what cannot be delivered. One channel per module, registered under the entry-point
group `mdc.alert_channels` (`slack = "mdc.alerts.channels.slack:Slack"`).

Secrets come from the environment only: a config names the variable (`webhook_url_env:
SLACK_WEBHOOK_URL`) or the channel's default variable is used, and a secret written into the
config file itself is refused.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

from mdc.alerts.dispatch import AlertRecord, Notification
from mdc.alerts.evaluator import ZERO_TIME
from mdc.errors import ConfigError
from mdc.plugins import load_variant, variant_names
from mdc.timefmt import format_rfc3339_ns

CHANNELS_GROUP = "mdc.alert_channels"


class ChannelConfigError(ConfigError):
    """A channel config that cannot work (missing secret, bad field); says what to set."""


@dataclass(frozen=True)
class HttpPost:
    url: str
    headers: tuple[tuple[str, str], ...]
    body: bytes


@dataclass(frozen=True)
class SmtpMail:
    """One e-mail over SMTP; `message` is the whole RFC 5322 message (headers and body)."""

    host: str
    port: int
    starttls: bool
    username: str | None
    password: str | None
    sender: str
    to: tuple[str, ...]
    message: bytes


Outgoing = HttpPost | SmtpMail


class Channel(Protocol):
    kind: ClassVar[str]
    rate_per_s: float
    """At most this many sends a second (a token bucket in the shell)."""

    def render(self, notification: Notification) -> list[Outgoing]:
        """What to send for this notification, in order (usually one item)."""
        ...


ChannelFactory = type[Channel]


def channel_kinds() -> list[str]:
    return variant_names(CHANNELS_GROUP)


def build_channel(kind: str, config: Mapping[str, Any], env: Mapping[str, str]) -> Channel:
    """The channel of `kind` for `config`, or ChannelConfigError naming the known kinds."""
    factory = load_variant(CHANNELS_GROUP, kind)
    if factory is None:
        known = ", ".join(f"{k}_configs" for k in channel_kinds())
        raise ChannelConfigError(f"unknown channel '{kind}_configs' (channels: {known})")
    return factory(config, env)


@dataclass(frozen=True)
class Outcome:
    """What a channel's answer means: delivered, retry (after `retry_after_s` if the service
    said), or failed for good (`detail` says why)."""

    delivered: bool
    retry: bool
    retry_after_s: float | None = None
    detail: str = ""


def classify(status: int, headers: Mapping[str, str], body: bytes) -> Outcome:
    """2xx delivered; 429 and 5xx retried (429 honouring Retry-After in seconds); any other
    4xx is the request's fault and is not retried."""
    if 200 <= status < 300:
        return Outcome(True, False)
    detail = f"HTTP {status}: {body[:300].decode('utf-8', 'replace')}"
    if status == 429:
        return Outcome(False, True, _retry_after(headers), detail)
    if status >= 500:
        return Outcome(False, True, None, detail)
    return Outcome(False, False, None, detail)


def _retry_after(headers: Mapping[str, str]) -> float | None:
    value = next((v for k, v in headers.items() if k.lower() == "retry-after"), None)
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None  # an HTTP date: fall back to our own backoff


def secret(
    config: Mapping[str, Any], env: Mapping[str, str], key: str, default_env: str, kind: str
) -> str:
    """The secret `key` from the environment variable the config names (`<key>_env`), else
    from `default_env`. A literal `key` in the config is refused (files leak; env does not)."""
    if key in config:
        raise ChannelConfigError(
            f"{kind}: '{key}' is a secret and is not read from the file; put it in an "
            f"environment variable and name it with '{key}_env' (default {default_env})"
        )
    name = str(config.get(f"{key}_env", default_env))
    value = env.get(name, "")
    if not value:
        raise ChannelConfigError(f"{kind}: set the environment variable {name} ({key})")
    return value


JSON_CONTENT = ("Content-Type", "application/json")


def truncate(text: str, limit: int) -> str:
    """`text` cut to at most `limit` characters, an ellipsis showing that it was cut."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def rate(config: Mapping[str, Any], default: float, kind: str) -> float:
    """`rate_per_s` (sends a second), positive, or ChannelConfigError saying so."""
    value = config.get("rate_per_s", default)
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = 0.0
    if not number > 0:
        raise ChannelConfigError(f"{kind}: rate_per_s must be a positive number, not {value!r}")
    return number


def check_keys(config: Mapping[str, Any], allowed: set[str], kind: str) -> None:
    unknown = sorted(set(config) - allowed - {"send_resolved"})
    for key in unknown:
        if f"{key}_env" in allowed:
            secret(config, {}, key, f"{key}_env", kind)  # raises: a secret written in the file
    if unknown:
        raise ChannelConfigError(
            f"{kind}: unknown key {unknown[0]!r} (keys: {', '.join(sorted(allowed))})"
        )


def title(notification: Notification) -> str:
    """'[FIRING:2] price_spike kraken': status, firing count and the group's labels."""
    firing = sum(a.firing for a in notification.alerts)
    status = notification.status.upper()
    count = f":{firing}" if notification.status == "firing" else ""
    labels = " ".join(v for _, v in notification.group_labels)
    return f"[{status}{count}] {labels}".rstrip()


def alert_line(alert: AlertRecord) -> str:
    """One alert as one line of text: name, where, value, since when (and until when)."""
    labels = alert.labels
    where = " ".join(
        f"{k}={v}" for k, v in sorted(labels.items()) if k not in ("alertname", "severity")
    )
    when = f"since {format_rfc3339_ns(alert.starts_at_ns)}"
    if not alert.firing:
        when = f"resolved at {format_rfc3339_ns(alert.ends_at_ns or 0)}"
    value = f" value {alert.value}" if alert.value else ""
    summary = alert.annotations.get("summary", "")
    tail = f": {summary}" if summary else ""
    return (
        f"{labels.get('alertname', '')} ({labels.get('severity', '')}) {where}{value} {when}{tail}"
    )


def severity(notification: Notification) -> str:
    """The most severe of the group's alerts (critical > error > warning > info)."""
    order = ("critical", "error", "warning", "info")
    found = {a.labels.get("severity", "warning") for a in notification.alerts}
    return next((s for s in order if s in found), "warning")


def alertmanager_body(notification: Notification, external_url: str = "") -> dict:
    """Alertmanager's webhook body (version 4), which existing tooling reads."""
    alerts = notification.alerts
    common = notification.common_labels()
    annotations = [a.annotations for a in alerts]
    common_annotations = {
        k: v for k, v in annotations[0].items() if all(o.get(k) == v for o in annotations[1:])
    }
    return {
        "version": "4",
        "groupKey": notification.group_key,
        "truncatedAlerts": 0,
        "status": notification.status,
        "receiver": notification.receiver,
        "groupLabels": dict(notification.group_labels),
        "commonLabels": common,
        "commonAnnotations": common_annotations,
        "externalURL": external_url,
        "alerts": [
            {
                "status": "firing" if a.firing else "resolved",
                "labels": a.labels,
                "annotations": a.annotations,
                "startsAt": format_rfc3339_ns(a.starts_at_ns),
                "endsAt": ZERO_TIME if a.firing else format_rfc3339_ns(a.ends_at_ns or 0),
                "generatorURL": "",
                "fingerprint": a.fingerprint,
            }
            for a in alerts
        ],
    }
