"""The PagerDuty channel: Events API v2 trigger and resolve events, exactly, within its limits."""

import dataclasses

import orjson
import pytest

from mdc.alerts.channels.base import ChannelConfigError
from mdc.alerts.channels.pagerduty import MAX_BODY_BYTES, PagerDuty
from tests.unit.alert_samples import S, alert, notification

KEY = "R0UTINGKEY0123456789abcdef012345"
ENV = {"MDC_PAGERDUTY_ROUTING_KEY": KEY}
SINCE = "since 2026-11-30T00:53:20.000000000Z"
BTC = f"price_spike (warning) symbol=BTC-USD venue=kraken value 0.06 {SINCE}"
ETH = f"price_spike (warning) symbol=ETH-USD venue=kraken value 0.07 {SINCE}"
DEDUP = "9d58d4e005cdd8ccfe422c5f9644faecb0fae99dae8af2cf75807f4807e2d677"  # sha256(group key)


def event(alerts=None, config=None):
    (post,) = PagerDuty(config or {}, ENV).render(notification("pagerduty", alerts))
    return orjson.loads(post.body)


def test_a_firing_group_triggers_the_incident_of_its_group():
    (post,) = PagerDuty({}, ENV).render(notification("pagerduty"))
    assert post.url == "https://events.pagerduty.com/v2/enqueue"
    assert post.headers == (("Content-Type", "application/json"),)
    assert orjson.loads(post.body) == {
        "routing_key": KEY,
        "event_action": "trigger",
        "dedup_key": DEDUP,
        "payload": {
            "summary": "[FIRING:2] price_spike kraken",
            "source": "mdc",
            "severity": "warning",
            "timestamp": "2026-11-30T00:53:20.000000000Z",
            "component": "kraken",
            "group": "price_spike",
            "class": "market-data",
            "custom_details": {"alerts": [BTC, ETH]},
        },
        "client": "mdc",
    }


def test_the_resolve_closes_the_same_incident_and_says_nothing_else():
    trigger = event()
    resolve = event([alert(resolved=True), alert(symbol="ETH-USD", resolved=True)])
    assert resolve == {"routing_key": KEY, "dedup_key": DEDUP, "event_action": "resolve"}
    assert list(resolve) == ["routing_key", "dedup_key", "event_action"]
    assert resolve["dedup_key"] == trigger["dedup_key"]
    assert len(resolve["dedup_key"]) <= 255


def test_a_group_with_one_alert_still_firing_triggers():
    body = event([alert(resolved=True), alert(symbol="ETH-USD")])
    assert body["event_action"] == "trigger"
    assert body["payload"]["summary"] == "[FIRING:1] price_spike kraken"


@pytest.mark.parametrize(
    ("severities", "expected"),
    [
        (["info"], "info"),
        (["warning", "info"], "warning"),
        (["info", "error"], "error"),
        (["warning", "critical", "error"], "critical"),
        (["page"], "warning"),  # not one of PagerDuty's: the default
    ],
)
def test_severity_is_the_groups_most_severe_in_pagerdutys_set(severities, expected):
    alerts = [alert(severity=s, symbol=f"S{i}") for i, s in enumerate(severities)]
    assert event(alerts)["payload"]["severity"] == expected


def test_the_timestamp_is_the_earliest_start():
    later = dataclasses.replace(alert(symbol="ETH-USD"), starts_at_ns=alert().starts_at_ns + S)
    earlier = dataclasses.replace(alert(), starts_at_ns=alert().starts_at_ns - 90 * S)
    assert event([later, earlier])["payload"]["timestamp"] == "2026-11-30T00:51:50.000000000Z"


def test_component_and_group_only_when_common():
    payload = event([alert(), alert(name="data_gap", venue="coinbase")])["payload"]
    assert "component" not in payload and "group" not in payload
    payload = event([alert(), alert(venue="coinbase")])["payload"]
    assert payload["group"] == "price_spike" and "component" not in payload


def test_a_long_summary_is_cut_to_1024_characters():
    summary = event([alert(venue="v" * 2000)])["payload"]["summary"]
    assert len(summary) == 1024
    assert summary == ("[FIRING:1] price_spike " + "v" * 2000)[:1023] + "…"


def test_the_source_and_url_can_be_set():
    config = {"source": "mdc-eu", "url": "http://127.0.0.1:9/v2/enqueue"}
    (post,) = PagerDuty(config, ENV).render(notification("pagerduty"))
    assert post.url == "http://127.0.0.1:9/v2/enqueue"
    assert orjson.loads(post.body)["payload"]["source"] == "mdc-eu"


def test_a_body_over_512_kB_drops_alert_lines_from_the_end():
    alerts = [alert(symbol=f"S{i:04d}", summary="x" * 1000) for i in range(600)]
    (post,) = PagerDuty({}, ENV).render(notification("pagerduty", alerts))
    assert MAX_BODY_BYTES == 512_000
    assert len(post.body) <= MAX_BODY_BYTES
    details = orjson.loads(post.body)["payload"]["custom_details"]
    kept = details["alerts"]
    assert details["alerts_dropped"] == 600 - len(kept) > 0
    assert [line.split()[2] for line in kept] == [f"symbol=S{i:04d}" for i in range(len(kept))]
    # As many as fit: one line more would not.
    line_bytes = len(orjson.dumps(kept[-1])) + 1
    assert len(post.body) + line_bytes > MAX_BODY_BYTES


def test_a_body_under_the_limit_keeps_every_line_and_no_count():
    alerts = [alert(symbol=f"S{i:04d}", summary="x" * 1000) for i in range(400)]
    details = event(alerts)["payload"]["custom_details"]
    assert len(details["alerts"]) == 400 and "alerts_dropped" not in details


def test_rate_default_and_override():
    assert PagerDuty({}, ENV).rate_per_s == 5.0
    assert PagerDuty({"rate_per_s": 1}, ENV).rate_per_s == 1.0


@pytest.mark.parametrize(
    ("config", "env", "expected"),
    [
        ({}, {}, r"pagerduty: set the environment variable MDC_PAGERDUTY_ROUTING_KEY"),
        (
            {"routing_key_env": "PD_KEY"},
            ENV,
            r"set the environment variable PD_KEY \(routing_key\)",
        ),
        ({"routing_key": KEY}, ENV, "'routing_key' is a secret .* 'routing_key_env'"),
        ({"severity": "critical"}, ENV, "pagerduty: unknown key 'severity'"),
    ],
)
def test_a_bad_pagerduty_config_says_what_to_set(config, env, expected):
    with pytest.raises(ChannelConfigError, match=expected):
        PagerDuty(config, env)
