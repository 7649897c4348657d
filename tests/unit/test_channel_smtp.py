"""The SMTP channel: one RFC 5322 message, parsed back and checked header for header and part
for part, with a Date and Message-ID that come from the notification, not the clock."""

import dataclasses
import email
import email.policy
import hashlib

import pytest

from mdc.alerts.channels.base import ChannelConfigError
from mdc.alerts.channels.smtp import Smtp
from tests.unit.alert_samples import S, alert, notification

BASE = {
    "to": ["oncall@example.com", "md@example.com"],
    "from": "alerts@example.com",
    "smarthost": "127.0.0.1:2525",
}
AUTH = {**BASE, "smarthost": "smtp.example.com:587", "auth_username": "alerts"}


def parse(mail):
    return email.message_from_bytes(mail.message, policy=email.policy.default)


def content(part):
    """A part's text with LF line ends (on the wire, as SMTP wants, they are CRLF)."""
    return part.get_content().replace("\r\n", "\n")


def test_one_mail_with_a_text_and_an_html_part():
    group = notification("email")
    (mail,) = Smtp(BASE, {}).render(group)
    assert (mail.host, mail.port, mail.starttls) == ("127.0.0.1", 2525, True)
    assert (mail.username, mail.password) == (None, None)
    assert mail.sender == "alerts@example.com"
    assert mail.to == ("oncall@example.com", "md@example.com")
    msg = parse(mail)
    assert msg["Subject"] == "[FIRING:2] price_spike kraken"
    assert msg["From"] == "alerts@example.com"
    assert msg["To"] == "oncall@example.com, md@example.com"
    assert msg.get_content_type() == "multipart/alternative"
    text, markup = msg.iter_parts()
    assert text.get_content_type() == "text/plain" and markup.get_content_type() == "text/html"
    assert content(text).startswith("[FIRING:2] price_spike kraken\n\n")
    assert "symbol=BTC-USD" in content(text) and "symbol=ETH-USD" in content(text)
    assert content(markup).startswith("<h3>[FIRING:2] price_spike kraken</h3>\n")
    assert content(markup).count("<li>") == 2
    assert mail.message.count(b"\n") == mail.message.count(b"\r\n")  # SMTP's line ends


def test_date_and_message_id_come_from_the_notification():
    group = notification("email")
    (mail,) = Smtp(BASE, {}).render(group)
    msg = parse(mail)
    assert msg["Date"] == "Mon, 30 Nov 2026 00:53:50 +0000"  # at_ns = 1_796_000_030 s
    key = hashlib.sha256(group.group_key.encode()).hexdigest()
    assert msg["Message-ID"] == f"<{key}.{group.at_ns}@mdc>"
    assert Smtp(BASE, {}).render(group)[0].message == mail.message
    (later,) = Smtp(BASE, {}).render(dataclasses.replace(group, at_ns=group.at_ns + 3600 * S))
    assert parse(later)["Date"] == "Mon, 30 Nov 2026 01:53:50 +0000"
    assert parse(later)["Message-ID"] == f"<{key}.{group.at_ns + 3600 * S}@mdc>"


def test_a_resolved_group_and_a_one_line_subject():
    (mail,) = Smtp(BASE, {}).render(notification("email", [alert(venue="bör\nse", resolved=True)]))
    msg = parse(mail)
    assert msg["Subject"] == "[RESOLVED] price_spike bör se"
    assert "resolved at " in content(msg.get_body(("plain",)))


def test_auth_reads_the_password_from_the_environment():
    (mail,) = Smtp(AUTH, {"MDC_SMTP_PASSWORD": "pw"}).render(notification("email"))
    assert (mail.host, mail.port, mail.username, mail.password) == (
        "smtp.example.com",
        587,
        "alerts",
        "pw",
    )
    named = Smtp({**AUTH, "auth_password_env": "MAIL_PW"}, {"MAIL_PW": "other"})
    assert named.password == "other"
    loopback = Smtp({**BASE, "starttls": False, "auth_username": "u"}, {"MDC_SMTP_PASSWORD": "p"})
    assert (loopback.starttls, loopback.username) == (False, "u")


def test_the_defaults_and_an_ipv6_smarthost():
    channel = Smtp({**BASE, "smarthost": "[::1]:25"}, {})
    assert (channel.host, channel.port, channel.starttls, channel.rate_per_s) == (
        "::1",
        25,
        True,
        2,
    )


WITHOUT = {key: {k: v for k, v in BASE.items() if k != key} for key in BASE}


@pytest.mark.parametrize(
    ("config", "env", "expected"),
    [
        (AUTH, {}, "set the environment variable MDC_SMTP_PASSWORD"),
        ({**AUTH, "auth_password_env": "MAIL_PW"}, {}, "set the environment variable MAIL_PW"),
        ({**AUTH, "auth_password": "pw"}, {}, "'auth_password' is a secret"),
        ({**BASE, "auth_password_env": "MAIL_PW"}, {}, "'auth_username' is not"),
        ({**AUTH, "starttls": False}, {"MDC_SMTP_PASSWORD": "p"}, "set starttls: true"),
        (WITHOUT["to"], {}, "set 'to' to a list of e-mail addresses"),
        (WITHOUT["from"], {}, "set 'from' to an e-mail address"),
        (WITHOUT["smarthost"], {}, "set 'smarthost' to host:port"),
        ({**BASE, "smarthost": "smtp.example.com"}, {}, "set 'smarthost' to host:port"),
        ({**BASE, "smarthost": "smtp.example.com:99999"}, {}, "set 'smarthost' to host:port"),
        ({**BASE, "starttls": "yes"}, {}, "set 'starttls' to true or false"),
        ({**BASE, "hello": "mdc"}, {}, "unknown key 'hello'"),
    ],
)
def test_a_bad_email_config_says_what_to_set(config, env, expected):
    with pytest.raises(ChannelConfigError, match=expected):
        Smtp(config, env)
