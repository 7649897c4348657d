"""Delivery to local receivers: every send is checked as the receiver got it; 429 waits its
Retry-After, 5xx and timeouts are retried, another 4xx is not; what cannot be delivered is
dead-lettered with the reason; a full channel queue dead-letters at once; the rate holds; and
e-mail goes over SMTP with AUTH."""

from __future__ import annotations

import asyncio
import email
import email.policy
import itertools

import orjson
import pytest

from alerts.delivery import Delivery, DeliveryPolicy, Undeliverable
from alerts.redeliver import keep_undelivered
from mdc import cli
from mdc.alerts.channels.base import build_channel
from mdc.backoff import Backoff
from tests.integration.receivers import CaptureServer, Reply, SmtpReceiver, ThreadedCapture
from tests.unit.alert_samples import alert, notification

SMTP_POLICY = DeliveryPolicy(max_attempts=3, timeout_s=10.0, backoff=Backoff(0.01, 0.05))
FAST = DeliveryPolicy(max_attempts=3, queue_size=4, timeout_s=0.3, backoff=Backoff(0.01, 0.05))


async def _deliver(
    kind: str,
    config: dict,
    notifications: list,
    env: dict | None = None,
    policy: DeliveryPolicy = FAST,
) -> tuple[Delivery, list[Undeliverable]]:
    dead: list[Undeliverable] = []
    channel = build_channel(kind, config, env or {})
    delivery = Delivery({("team", f"{kind}/0"): channel}, dead.append, policy)
    await delivery.start()
    try:
        for one in notifications:
            delivery.submit(one)
        assert await delivery.drain(20)
    finally:
        await delivery.close()
    return delivery, dead


def test_a_webhook_is_delivered_as_rendered():
    async def scenario():
        async with CaptureServer() as server:
            sent = notification("webhook")
            delivery, dead = await _deliver("webhook", {"url": server.url + "/hook"}, [sent])
            (got,) = server.requests
            assert got.method == "POST" and got.path_qs == "/hook"
            assert orjson.loads(got.body)["groupKey"] == sent.group_key
            assert got.headers["Content-Type"] == "application/json"
            assert dead == [] and delivery.sent[("team", "webhook/0")] == 1

    asyncio.run(scenario())


def test_429_waits_its_retry_after_and_5xx_is_retried():
    async def scenario():
        async with CaptureServer() as server:
            server.script.extend(
                [Reply(429, "slow down", (("Retry-After", "0.3"),)), Reply(503, "busy")]
            )
            delivery, dead = await _deliver(
                "webhook", {"url": server.url}, [notification("webhook")]
            )
            first, second, third = server.requests
            assert second.at - first.at >= 0.3  # the service's Retry-After was honoured
            assert first.body == second.body == third.body
            assert dead == [] and delivery.retried[("team", "webhook/0")] == 2

    asyncio.run(scenario())


def test_another_4xx_is_not_retried_and_is_dead_lettered_with_the_reason():
    async def scenario():
        async with CaptureServer(default=Reply(400, "invalid_payload")) as server:
            _, dead = await _deliver("webhook", {"url": server.url}, [notification("webhook")])
            assert len(server.requests) == 1
            (lost,) = dead
            assert lost.attempts == 1 and lost.reason == "HTTP 400: invalid_payload"
            assert lost.outgoing is not None and lost.outgoing.body == server.requests[0].body

    asyncio.run(scenario())


def test_a_service_too_slow_to_answer_is_retried_then_dead_lettered():
    async def scenario():
        async with CaptureServer(default=Reply(200, delay_s=1.0)) as server:
            _, dead = await _deliver("webhook", {"url": server.url}, [notification("webhook")])
            assert len(server.requests) == FAST.max_attempts
            (lost,) = dead
            assert lost.attempts == 3 and "Timeout" in lost.reason

    asyncio.run(scenario())


def test_a_full_channel_queue_dead_letters_at_once_and_the_rate_holds():
    async def scenario():
        async with CaptureServer() as server:
            config = {"url": server.url, "rate_per_s": 10}
            many = [notification("webhook") for _ in range(6)]
            _, dead = await _deliver("webhook", config, many)
            # submitted in one go: four fit the queue, two had no room
            assert len(server.requests) == 4
            assert [d.reason for d in dead] == ["the channel's queue is full"] * 2
            gaps = [b.at - a.at for a, b in itertools.pairwise(server.requests)]
            assert min(gaps) >= 0.09  # 10 a second

    asyncio.run(scenario())


def _mail(smtp: SmtpReceiver, password: str, sent) -> list[Undeliverable]:
    """Deliver `sent` by e-mail to the local SMTP receiver, logging in with `password`."""
    config = {
        "to": ["ops@example.com"],
        "from": "mdc@example.com",
        "smarthost": f"127.0.0.1:{smtp.port}",
        "starttls": False,
        "auth_username": SmtpReceiver.USER,
    }
    env = {"MDC_SMTP_PASSWORD": password}
    _, dead = asyncio.run(_deliver("email", config, [sent], env, SMTP_POLICY))
    return dead


def test_email_goes_over_smtp_with_auth():
    with SmtpReceiver() as smtp:
        dead = _mail(smtp, SmtpReceiver.PASSWORD, notification("email", [alert(resolved=True)]))
        assert dead == [] and smtp.recorder.logins == ["mdc"]
        ((sender, to, raw),) = smtp.recorder.messages
    assert sender == "mdc@example.com" and to == ["ops@example.com"]
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert message["Subject"].startswith("[RESOLVED]")
    assert {part.get_content_type() for part in message.walk()} >= {"text/plain", "text/html"}


def test_a_wrong_smtp_password_is_not_retried():
    with SmtpReceiver() as smtp:
        dead = _mail(smtp, "wrong", notification("email"))
    (lost,) = dead
    assert lost.attempts == 1 and "SMTPAuthenticationError" in lost.reason


def test_closing_dead_letters_what_is_still_queued_or_retrying():
    async def scenario():
        async with CaptureServer(default=Reply(503, "down")) as server:
            dead: list[Undeliverable] = []
            channel = build_channel("webhook", {"url": server.url}, {})
            slow = DeliveryPolicy(max_attempts=5, queue_size=4, backoff=Backoff(30.0, 60.0))
            delivery = Delivery({("team", "webhook/0"): channel}, dead.append, slow)
            await delivery.start()
            for _ in range(3):
                delivery.submit(notification("webhook"))
            await server.wait_for(1)  # the first is in its backoff, two are queued
            await delivery.close()
            return dead, len(server.requests)

    dead, posts = asyncio.run(scenario())
    assert posts == 1
    assert [d.reason for d in dead] == ["not delivered before the alerting stopped"] * 3


HTTP_CHANNELS = {
    # kind: (config with {url} for the receiver, env, path the service is posted to)
    "slack": ({"webhook_url_env": "HOOK"}, {"HOOK": "{url}/services/T/B/X"}, "/services/T/B/X"),
    "msteams": ({}, {"MDC_TEAMS_WEBHOOK_URL": "{url}/workflows/1"}, "/workflows/1"),
    "pagerduty": ({"url": "{url}/v2/enqueue"}, {"MDC_PAGERDUTY_ROUTING_KEY": "rk"}, "/v2/enqueue"),
    "opsgenie": ({"url": "{url}"}, {"MDC_OPSGENIE_API_KEY": "gk"}, "/v2/alerts"),
    "sendgrid": (
        {"url": "{url}/v3/mail/send", "to": ["ops@example.com"], "from": "mdc@example.com"},
        {"MDC_SENDGRID_API_KEY": "sg"},
        "/v3/mail/send",
    ),
    "webhook": ({"url": "{url}/hook"}, {}, "/hook"),
}


@pytest.mark.parametrize("kind", sorted(HTTP_CHANNELS))
def test_each_http_channel_reaches_its_receiver_firing_then_resolved(kind):
    """The receiver gets exactly the bytes and headers the channel rendered, at the path the
    service listens on; the resolve follows the trigger (OpsGenie closes by alias)."""

    async def scenario():
        async with CaptureServer() as server:
            config, env, path = HTTP_CHANNELS[kind]
            config = {k: _at(v, server.url) for k, v in config.items()}
            env = {k: _at(v, server.url) for k, v in env.items()}
            channel = build_channel(kind, config, env)
            sent = [notification(kind), notification(kind, [alert(resolved=True)])]
            _, dead = await _deliver(kind, config, sent, env)
            rendered = [item for n in sent for item in channel.render(n)]
            return server.requests, rendered, dead, path

    got, rendered, dead, path = asyncio.run(scenario())
    assert dead == [] and len(got) == len(rendered) == 2
    assert got[0].path_qs == path
    for request, item in zip(got, rendered, strict=True):
        assert request.body == item.body
        assert all(request.headers[k] == v for k, v in item.headers)
    if kind == "opsgenie":
        alias = orjson.loads(got[0].body)["alias"]
        assert got[1].path_qs == f"/v2/alerts/{alias}/close?identifierType=alias"


def _at(value, url: str):
    return value.replace("{url}", url) if isinstance(value, str) else value


def test_an_undeliverable_notification_is_kept_listed_and_replayed(tmp_path, capsys):
    """The dead letters of notifications, end to end: kept when the channel gives up, named by
    `mdc dlq list`, listed by `mdc alerts undelivered`, sent again by its --replay through the
    channel of the same name, and gone once delivered."""
    data = str(tmp_path)

    async def refused() -> None:
        async with CaptureServer(default=Reply(400, "invalid_payload")) as server:
            _, dead = await _deliver("webhook", {"url": server.url}, [notification("webhook")])
        for lost in dead:
            keep_undelivered(data, lost)

    asyncio.run(refused())
    assert cli.main(["dlq", "list", "--data-dir", data]) == 0
    assert "1 undelivered alert notification" in capsys.readouterr().err
    assert cli.main(["alerts", "undelivered", "--data-dir", data]) == 0
    (line,) = capsys.readouterr().out.splitlines()
    assert "team/webhook/0" in line and "HTTP 400" in line

    with ThreadedCapture() as hook:
        rules = tmp_path / "rules.yaml"
        rules.write_text(RESEND_RULES.replace("URL", hook.url))
        argv = ["alerts", "undelivered", "--replay", "--rules", str(rules), "--data-dir", data]
        assert cli.main(argv) == 0
        assert "1 sent again, 0 still undelivered" in capsys.readouterr().err
        (resent,) = hook.requests
    assert orjson.loads(resent.body)["groupKey"] == notification("webhook").group_key
    assert cli.main(["alerts", "undelivered", "--data-dir", data]) == 0
    assert capsys.readouterr().out == ""


RESEND_RULES = """
alerts:
  - name: price_spike
    condition: "price > 0"
route:
  receiver: team
receivers:
  - name: team
    webhook_configs: [{url: URL}]
"""
