"""The Teams channel: the Adaptive Card (default) and the legacy MessageCard, exactly."""

import orjson
import pytest

from mdc.alerts.channels.base import ChannelConfigError
from mdc.alerts.channels.msteams import MsTeams
from tests.unit.alert_samples import alert, notification

URL = "https://prod.example.logic.azure.com/workflows/x"
ENV = {"MDC_TEAMS_WEBHOOK_URL": URL}
SINCE = "since 2026-11-30T00:53:20.000000000Z"
BTC = f"price_spike (warning) symbol=BTC-USD venue=kraken value 0.06 {SINCE}"
ETH = f"price_spike (warning) symbol=ETH-USD venue=kraken value 0.07 {SINCE}"


def body(config, alerts=None):
    (post,) = MsTeams(config, ENV).render(notification("msteams", alerts))
    return orjson.loads(post.body)


def test_the_default_is_the_adaptive_card_of_the_spec():
    (post,) = MsTeams({}, ENV).render(notification("msteams"))
    assert post.url == URL
    assert post.headers == (("Content-Type", "application/json"),)
    assert orjson.loads(post.body) == {
        "type": "message",
        "attachments": [
            {
                "contentType": "application/vnd.microsoft.card.adaptive",
                "contentUrl": None,
                "content": {
                    "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                    "type": "AdaptiveCard",
                    "version": "1.2",
                    "body": [
                        {
                            "type": "TextBlock",
                            "text": "[FIRING:2] price_spike kraken",
                            "weight": "Bolder",
                            "size": "Medium",
                            "wrap": True,
                            "style": "heading",
                            "color": "Warning",
                        },
                        {"type": "TextBlock", "text": f"{BTC}\n\n{ETH}", "wrap": True},
                    ],
                    "msteams": {"width": "full"},
                },
            }
        ],
    }
    assert b'"contentUrl":null' in post.body  # present and null, not left out


@pytest.mark.parametrize(
    ("severities", "resolved", "expected", "theme"),
    [
        (["warning"], False, "Warning", "FFA500"),
        (["info"], False, "Warning", "FFA500"),
        (["error"], False, "Attention", "D13438"),
        (["warning", "critical"], False, "Attention", "D13438"),
        (["critical"], True, "Good", "2DC72D"),
    ],
)
def test_the_color_follows_status_and_severity(severities, resolved, expected, theme):
    alerts = [alert(severity=s, symbol=s, resolved=resolved) for s in severities]
    heading = body({}, alerts)["attachments"][0]["content"]["body"][0]
    assert heading["color"] == expected
    assert body({"card": "messagecard"}, alerts)["themeColor"] == theme


def test_the_message_card_for_an_office_365_connector():
    assert body({"card": "messagecard"}) == {
        "@type": "MessageCard",
        "@context": "http://schema.org/extensions",
        "themeColor": "FFA500",
        "summary": "[FIRING:2] price_spike kraken",
        "title": "[FIRING:2] price_spike kraken",
        "text": f"{BTC}\n\n{ETH}",
        "sections": [
            {
                "facts": [
                    {"name": "alertname", "value": "price_spike"},
                    {"name": "severity", "value": "warning"},
                    {"name": "venue", "value": "kraken"},
                ]
            }
        ],
    }


def test_a_resolved_group_has_the_resolved_title_and_lines():
    content = body({}, [alert(resolved=True)])["attachments"][0]["content"]
    assert content["body"][0]["text"] == "[RESOLVED] price_spike kraken"
    assert content["body"][1]["text"].endswith("resolved at 2026-11-30T00:54:20.000000000Z")


def test_rate_default_and_override():
    assert MsTeams({}, ENV).rate_per_s == 2.0
    assert MsTeams({"rate_per_s": 4}, ENV).rate_per_s == 4.0


@pytest.mark.parametrize(
    ("config", "env", "expected"),
    [
        ({}, {}, r"msteams: set the environment variable MDC_TEAMS_WEBHOOK_URL \(webhook_url\)"),
        ({"webhook_url_env": "TEAMS"}, ENV, "set the environment variable TEAMS"),
        ({"webhook_url": URL}, ENV, "'webhook_url' is a secret .* 'webhook_url_env'"),
        ({"color": "red"}, ENV, "msteams: unknown key 'color'"),
        ({"card": "hero"}, ENV, "msteams: set 'card' to adaptive .* or messagecard .*not 'hero'"),
    ],
)
def test_a_bad_teams_config_says_what_to_set(config, env, expected):
    with pytest.raises(ChannelConfigError, match=expected):
        MsTeams(config, env)
