"""The generic webhook channel: Alertmanager's webhook body, exactly, and its HMAC signature."""

import hashlib
import hmac

import orjson
import pytest

from mdc.alerts.channels.base import ChannelConfigError, build_channel
from mdc.alerts.channels.webhook import SIGNATURE_HEADER
from tests.unit.alert_samples import alert, notification


def test_the_body_is_alertmanagers_webhook_body():
    channel = build_channel("webhook", {"url": "http://127.0.0.1:9/hook"}, {})
    (post,) = channel.render(notification("webhook"))
    assert post.url == "http://127.0.0.1:9/hook"
    body = orjson.loads(post.body)
    assert set(body) == {
        "version", "groupKey", "truncatedAlerts", "status", "receiver", "groupLabels",
        "commonLabels", "commonAnnotations", "externalURL", "alerts",
    }  # fmt: skip
    assert body["version"] == "4" and body["status"] == "firing" and body["receiver"] == "team"
    assert body["groupLabels"] == {"alertname": "price_spike", "venue": "kraken"}
    assert body["commonLabels"] == {
        "alertname": "price_spike",
        "severity": "warning",
        "venue": "kraken",
    }
    first = body["alerts"][0]
    assert set(first) == {
        "status", "labels", "annotations", "startsAt", "endsAt", "generatorURL", "fingerprint",
    }  # fmt: skip
    assert first["endsAt"] == "0001-01-01T00:00:00Z" and first["startsAt"].endswith("Z")
    assert dict(post.headers)["Content-Type"] == "application/json"
    assert SIGNATURE_HEADER not in dict(post.headers)


def test_a_resolved_group_and_its_signature():
    env = {"HOOK_KEY": "s3cret"}
    config = {"url": "http://127.0.0.1:9/", "hmac_secret_env": "HOOK_KEY"}
    channel = build_channel("webhook", config, env)
    (post,) = channel.render(notification("webhook", [alert(resolved=True)]))
    assert orjson.loads(post.body)["status"] == "resolved"
    expected = hmac.new(b"s3cret", post.body, hashlib.sha256).hexdigest()
    assert dict(post.headers)[SIGNATURE_HEADER] == f"sha256={expected}"


@pytest.mark.parametrize(
    ("config", "env", "expected"),
    [
        ({}, {}, "set 'url'"),
        ({"url_env": "HOOK_URL"}, {}, "set the environment variable HOOK_URL"),
        ({"url": "x", "hmac_secret": "s"}, {}, "'hmac_secret' is a secret"),
        ({"url": "x", "hmac_secret_env": "K"}, {}, "set the environment variable K"),
        ({"url": "x", "colour": 1}, {}, "unknown key 'colour'"),
    ],
)
def test_a_bad_webhook_config_says_what_to_set(config, env, expected):
    with pytest.raises(ChannelConfigError, match=expected):
        build_channel("webhook", config, env)


def test_an_unknown_channel_names_the_known_ones():
    with pytest.raises(ChannelConfigError, match=r"unknown channel 'fax_configs'.*webhook_configs"):
        build_channel("fax", {}, {})
