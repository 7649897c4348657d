"""The Slack channel: the incoming-webhook body (blocks and fallback text), exactly."""

import orjson
import pytest

from mdc.alerts.channels.base import ChannelConfigError
from mdc.alerts.channels.slack import Slack
from tests.unit.alert_samples import alert, notification

URL = "https://hooks.slack.example/services/T0/B0/x"
ENV = {"MDC_SLACK_WEBHOOK_URL": URL}
SINCE = "since 2026-11-30T00:53:20.000000000Z"
BTC = f"price_spike (warning) symbol=BTC-USD venue=kraken value 0.06 {SINCE}"
ETH = f"price_spike (warning) symbol=ETH-USD venue=kraken value 0.07 {SINCE}"


def section(text):
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def header(text):
    return {"type": "header", "text": {"type": "plain_text", "text": text}}


def test_a_firing_group_is_a_header_and_one_section_per_alert():
    (post,) = Slack({}, ENV).render(notification("slack"))
    assert post.url == URL
    assert post.headers == (("Content-Type", "application/json"),)
    assert orjson.loads(post.body) == {
        "text": f"[FIRING:2] price_spike kraken\n{BTC}\n{ETH}",
        "blocks": [header("[FIRING:2] price_spike kraken"), section(BTC), section(ETH)],
    }


def test_a_resolved_group_says_so():
    (post,) = Slack({}, ENV).render(notification("slack", [alert(resolved=True)]))
    line = BTC.replace(SINCE, "resolved at 2026-11-30T00:54:20.000000000Z")
    assert orjson.loads(post.body) == {
        "text": f"[RESOLVED] price_spike kraken\n{line}",
        "blocks": [header("[RESOLVED] price_spike kraken"), section(line)],
    }


def test_the_channel_is_sent_only_when_configured():
    env = {"HOOK": URL}
    (post,) = Slack({"webhook_url_env": "HOOK", "channel": "#md"}, env).render(
        notification("slack")
    )
    assert orjson.loads(post.body)["channel"] == "#md"


def test_past_twenty_alerts_the_rest_are_counted():
    alerts = [alert(symbol=f"S{i:02d}") for i in range(23)]
    body = orjson.loads(Slack({}, ENV).render(notification("slack", alerts))[0].body)
    blocks = body["blocks"]
    assert len(blocks) == 22
    assert [b["type"] for b in blocks[1:21]] == ["section"] * 20
    assert "symbol=S19 " in blocks[20]["text"]["text"]
    assert blocks[21] == {"type": "context", "elements": [{"type": "mrkdwn", "text": "and 3 more"}]}
    lines = body["text"].split("\n")
    assert len(lines) == 22 and lines[-1] == "and 3 more" and "S20" not in body["text"]


def test_labels_cannot_inject_mentions_or_links():
    alerts = [alert(summary="<!channel> & <http://x|y>")]
    body = orjson.loads(Slack({}, ENV).render(notification("slack", alerts))[0].body)
    escaped = "&lt;!channel&gt; &amp; &lt;http://x|y&gt;"
    assert body["blocks"][1]["text"]["text"].endswith(f": {escaped}")
    assert body["text"].endswith(f": {escaped}") and "<" not in body["text"]


def test_texts_are_cut_to_slacks_block_limits():
    alerts = [alert(venue="v" * 200, summary="s" * 4000)]
    blocks = orjson.loads(Slack({}, ENV).render(notification("slack", alerts))[0].body)["blocks"]
    head, line = blocks[0]["text"]["text"], blocks[1]["text"]["text"]
    assert len(head) == 150 and head.startswith("[FIRING:1] price_spike vvv") and head[-1] == "…"
    assert len(line) == 3000 and line.endswith("s…")


def test_rate_default_and_override():
    assert Slack({}, ENV).rate_per_s == 1.0
    assert Slack({"rate_per_s": 0.5}, ENV).rate_per_s == 0.5


@pytest.mark.parametrize(
    ("config", "env", "expected"),
    [
        ({}, {}, r"slack: set the environment variable MDC_SLACK_WEBHOOK_URL \(webhook_url\)"),
        ({"webhook_url_env": "HOOK"}, ENV, "set the environment variable HOOK"),
        ({"webhook_url": URL}, ENV, "'webhook_url' is a secret .* 'webhook_url_env'"),
        ({"colour": "red"}, ENV, "slack: unknown key 'colour'"),
    ],
)
def test_a_bad_slack_config_says_what_to_set(config, env, expected):
    with pytest.raises(ChannelConfigError, match=expected):
        Slack(config, env)
