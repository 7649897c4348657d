"""OpsGenie behind the incident adapter: Alert API v2 create and close, field for field."""

import hashlib

import orjson
import pytest

from mdc.alerts.channels.base import ChannelConfigError, HttpPost, alert_line
from mdc.alerts.channels.incident import IncidentChannel
from mdc.alerts.channels.opsgenie import OpsGenie
from tests.unit.alert_samples import alert, notification

ENV = {"MDC_OPSGENIE_API_KEY": "genie-123"}
URL = "http://127.0.0.1:9"
HEADERS = {"Authorization": "GenieKey genie-123", "Content-Type": "application/json"}


def render(alerts=None, **config):
    (post,) = OpsGenie({"url": URL, **config}, ENV).render(notification("opsgenie", alerts))
    return post


def resolved_pair():
    return [alert(resolved=True), alert(symbol="ETH-USD", resolved=True)]


def test_a_firing_group_creates_an_alert_aliased_by_its_dedup_key():
    group = notification("opsgenie")
    post = render(responders=[{"type": "team", "name": "md"}], tags=["mdc"])
    assert post.url == f"{URL}/v2/alerts"
    assert dict(post.headers) == HEADERS
    body = orjson.loads(post.body)
    assert body == {
        "alias": hashlib.sha256(group.group_key.encode()).hexdigest(),
        "message": "[FIRING:2] price_spike kraken",
        "description": body["description"],
        "details": {"alertname": "price_spike", "severity": "warning", "venue": "kraken"},
        "source": "mdc",
        "responders": [{"type": "team", "name": "md"}],
        "tags": ["mdc"],
        "priority": "P3",
        "entity": "kraken",
    }
    assert body["description"].split("\n") == [alert_line(a) for a in group.alerts]
    assert "symbol=BTC-USD" in body["description"] and "symbol=ETH-USD" in body["description"]


def test_a_resolved_group_closes_the_alert_with_the_same_alias():
    alias = orjson.loads(render().body)["alias"]
    close = render(resolved_pair())
    assert close.url == f"{URL}/v2/alerts/{alias}/close?identifierType=alias"
    assert dict(close.headers) == HEADERS
    assert orjson.loads(close.body) == {"source": "mdc", "note": "[RESOLVED] price_spike kraken"}


def test_a_group_with_one_alert_still_firing_does_not_close():
    post = render([alert(resolved=True), alert(symbol="ETH-USD")])
    assert post.url == f"{URL}/v2/alerts"
    assert orjson.loads(post.body)["message"] == "[FIRING:1] price_spike kraken"


@pytest.mark.parametrize(
    ("venue_length", "message_length", "clipped"), [(107, 130, False), (108, 130, True)]
)
def test_the_message_is_at_most_130_characters(venue_length, message_length, clipped):
    venue = "v" * venue_length  # "[FIRING:1] price_spike " is 23 characters
    message = orjson.loads(render([alert(venue=venue)]).body)["message"]
    assert len(message) == message_length
    assert message.endswith("…") is clipped
    assert message.startswith("[FIRING:1] price_spike vvv")


@pytest.mark.parametrize(
    ("severities", "priority"),
    [
        (["critical", "info"], "P1"),
        (["error"], "P2"),
        (["warning"], "P3"),
        (["info"], "P4"),
        (["info", "error"], "P2"),
    ],
)
def test_the_priority_follows_the_most_severe_alert(severities, priority):
    alerts = [alert(severity=s, symbol=f"S{i}") for i, s in enumerate(severities)]
    assert orjson.loads(render(alerts).body)["priority"] == priority


def test_no_entity_when_the_alerts_span_venues():
    body = orjson.loads(render([alert(), alert(venue="binance")]).body)
    assert "entity" not in body
    assert body["details"] == {
        "alertname": "price_spike",
        "severity": "warning",
        "symbol": "BTC-USD",
    }


def test_the_defaults():
    channel = OpsGenie({"api_key_env": "OG_KEY"}, {"OG_KEY": "k"})
    (post,) = channel.render(notification("opsgenie"))
    assert post.url == "https://api.opsgenie.com/v2/alerts"
    assert dict(post.headers)["Authorization"] == "GenieKey k"
    body = orjson.loads(post.body)
    assert body["responders"] == [] and body["tags"] == []
    assert channel.rate_per_s == 5
    assert render(url=f"{URL}/").url == f"{URL}/v2/alerts"


def test_another_incident_service_is_one_subclass():
    class Pager(IncidentChannel):
        kind = "pager"
        rate_per_s = 1.0

        def trigger(self, notification):
            return [HttpPost("open", (), notification.dedup_key.encode())]

        def resolve(self, notification):
            return [HttpPost("close", (), notification.dedup_key.encode())]

    (opened,) = Pager().render(notification("pager"))
    (closed,) = Pager().render(notification("pager", resolved_pair()))
    assert (opened.url, closed.url) == ("open", "close") and opened.body == closed.body
    assert isinstance(OpsGenie({}, ENV), IncidentChannel)


@pytest.mark.parametrize(
    ("config", "env", "expected"),
    [
        ({}, {}, "set the environment variable MDC_OPSGENIE_API_KEY"),
        ({"api_key_env": "OG_KEY"}, {}, "set the environment variable OG_KEY"),
        ({"api_key": "genie-123"}, ENV, "'api_key' is a secret"),
        ({"tags": "mdc"}, ENV, "'tags' is a list"),
        ({"tags": ["x" * 51]}, ENV, "'tags' is a list"),
        ({"responders": [{"name": "md"}]}, ENV, "'responders' is a list"),
        ({"responders": [{"type": "team"}]}, ENV, "'responders' is a list"),
        ({"priority": "P1"}, ENV, "unknown key 'priority'"),
    ],
)
def test_a_bad_opsgenie_config_says_what_to_set(config, env, expected):
    with pytest.raises(ChannelConfigError, match=expected):
        OpsGenie(config, env)
