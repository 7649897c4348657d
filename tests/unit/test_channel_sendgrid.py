"""SendGrid's v3 Mail Send body, field for field: text/plain before text/html, the sandbox
flag, escaped label values, and config errors that say what to set."""

import orjson
import pytest

from mdc.alerts.channels.base import ChannelConfigError
from mdc.alerts.channels.sendgrid import SendGrid
from tests.unit.alert_samples import alert, notification

ENV = {"MDC_SENDGRID_API_KEY": "SG.key"}
URL = "http://127.0.0.1:9/v3/mail/send"
BASE = {"to": ["oncall@example.com", "md@example.com"], "from": "alerts@example.com", "url": URL}


def body_of(config=None, alerts=None, env=ENV):
    (post,) = SendGrid({**BASE, **(config or {})}, env).render(notification("sendgrid", alerts))
    return orjson.loads(post.body)


def test_the_body_is_sendgrids_mail_send():
    (post,) = SendGrid({**BASE, "from_name": "mdc alerts"}, ENV).render(notification("sendgrid"))
    assert post.url == URL
    assert dict(post.headers) == {
        "Authorization": "Bearer SG.key",
        "Content-Type": "application/json",
    }
    body = orjson.loads(post.body)
    assert set(body) == {"personalizations", "from", "subject", "content", "mail_settings"}
    assert body["personalizations"] == [
        {"to": [{"email": "oncall@example.com"}, {"email": "md@example.com"}]}
    ]
    assert body["from"] == {"email": "alerts@example.com", "name": "mdc alerts"}
    assert body["subject"] == "[FIRING:2] price_spike kraken"
    assert [c["type"] for c in body["content"]] == ["text/plain", "text/html"]
    assert all(set(c) == {"type", "value"} for c in body["content"])
    text, markup = (c["value"] for c in body["content"])
    assert text.startswith("[FIRING:2] price_spike kraken\n\n")
    assert "symbol=BTC-USD" in text and "symbol=ETH-USD" in text and "since " in text
    assert markup.startswith("<h3>[FIRING:2] price_spike kraken</h3>")
    assert markup.count("<li>") == 2 and "symbol=ETH-USD" in markup
    assert body["mail_settings"] == {"sandbox_mode": {"enable": False}}


def test_the_sandbox_flag_and_a_sender_without_a_name():
    body = body_of({"sandbox": True})
    assert body["mail_settings"] == {"sandbox_mode": {"enable": True}}
    assert body["from"] == {"email": "alerts@example.com"}


def test_a_resolved_group():
    body = body_of(alerts=[alert(resolved=True)])
    assert body["subject"] == "[RESOLVED] price_spike kraken"
    assert "resolved at " in body["content"][0]["value"]


def test_label_values_are_escaped_in_the_html_only():
    text, markup = (c["value"] for c in body_of(alerts=[alert(symbol="<b>A&B</b>")])["content"])
    assert "symbol=<b>A&B</b>" in text
    assert "symbol=&lt;b&gt;A&amp;B&lt;/b&gt;" in markup and "<b>" not in markup


def test_the_defaults():
    channel = SendGrid({"to": ["a@example.com"], "from": "b@example.com"}, ENV)
    (post,) = channel.render(notification("sendgrid"))
    assert post.url == "https://api.sendgrid.com/v3/mail/send"
    assert channel.rate_per_s == 5
    key = SendGrid({**BASE, "api_key_env": "SG_KEY"}, {"SG_KEY": "other"})
    assert dict(key.render(notification("sendgrid"))[0].headers)["Authorization"] == "Bearer other"


WITHOUT_TO = {k: v for k, v in BASE.items() if k != "to"}
WITHOUT_FROM = {k: v for k, v in BASE.items() if k != "from"}


@pytest.mark.parametrize(
    ("config", "env", "expected"),
    [
        (BASE, {}, "set the environment variable MDC_SENDGRID_API_KEY"),
        ({**BASE, "api_key_env": "SG_KEY"}, {}, "set the environment variable SG_KEY"),
        ({**BASE, "api_key": "SG.key"}, ENV, "'api_key' is a secret"),
        (WITHOUT_TO, ENV, "set 'to' to a list of e-mail addresses"),
        ({**BASE, "to": "oncall@example.com"}, ENV, "set 'to' to a list"),
        ({**BASE, "to": []}, ENV, "set 'to' to a list"),
        ({**BASE, "to": ["oncall"]}, ENV, r"set 'to\[0\]' to an e-mail address"),
        ({**BASE, "to": ["a@b.com", "a@b@c"]}, ENV, r"set 'to\[1\]' to an e-mail address"),
        ({**BASE, "to": ["a@b.com", "A@b.com"]}, ENV, "'to' lists 'A@b.com' twice"),
        (WITHOUT_FROM, ENV, "set 'from' to an e-mail address"),
        ({**BASE, "from": "ops @example.com"}, ENV, "set 'from' to an e-mail address"),
        ({**BASE, "sandbox": "false"}, ENV, "set 'sandbox' to true or false"),
        ({**BASE, "cc": ["x@example.com"]}, ENV, "unknown key 'cc'"),
    ],
)
def test_a_bad_sendgrid_config_says_what_to_set(config, env, expected):
    with pytest.raises(ChannelConfigError, match=expected):
        SendGrid(config, env)
