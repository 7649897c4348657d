"""Notification timing against Alertmanager's rules (group_wait 30 s, group_interval 5 min,
repeat_interval 4 h, grouped by alertname and venue), one table row per rule: what is sent,
when, to a channel that sends resolved notifications and to one that does not."""

from __future__ import annotations

import pytest
import yaml

from mdc.alerts.dispatch import Dispatcher, Silence, needs_update
from mdc.alerts.evaluator import Transition
from mdc.alerts.matchers import BadMatcher, Matcher, parse_matchers
from mdc.alerts.routing import RoutingError, parse_routing

S = 10**9
ROUTING = """
route:
  receiver: team
  group_by: [alertname, venue]
  routes:
    - matchers: ["severity=critical"]
      receiver: pager
      continue: true
receivers:
  - name: team
    webhook_configs: [{url: "http://127.0.0.1:1/"}]
    slack_configs: [{send_resolved: false}]
  - name: pager
    pagerduty_configs: [{}]
"""


def _fire(name: str, venue: str, at: float, severity: str = "warning") -> tuple:
    return ("fire", name, venue, severity, at)


def _resolve(name: str, venue: str, at: float, severity: str = "warning") -> tuple:
    return ("resolve", name, venue, severity, at)


def _run(steps: list[tuple], until: float, silences: list[Silence] = ()) -> list[tuple]:
    """Apply the steps in time order, flushing every second; what each channel got."""
    dispatcher = Dispatcher(parse_routing(yaml.safe_load(ROUTING), "test"))
    for silence in silences:
        dispatcher.silences[silence.id] = silence
    fired: dict[tuple, int] = {}
    sent = []
    pending = sorted(steps, key=lambda s: s[-1])
    for second in range(int(until) + 1):
        now = second * S
        while pending and pending[0][-1] * S <= now:
            kind, name, venue, severity, at = pending.pop(0)
            labels = (("alertname", name), ("severity", severity), ("venue", venue))
            if kind == "fire":
                fired[labels] = int(at * S)
                transition = Transition(name, labels, "firing", int(at * S), None, "1")
            else:
                transition = Transition(name, labels, "resolved", fired[labels], int(at * S), "")
            dispatcher.add(transition, now)
        for n in dispatcher.flush_due(now):
            alerts = sorted(
                (a.labels["alertname"], a.labels["venue"], "firing" if a.firing else "resolved")
                for a in n.alerts
            )
            sent.append((second, n.receiver, n.integration.name, n.status, alerts))
    return sent


WEBHOOK, SLACK = ("team", "webhook/0"), ("team", "slack/0")

TABLE = [
    (
        "first notification after group_wait",
        [_fire("spike", "kraken", 0)],
        400,
        [
            (30, *WEBHOOK, "firing", [("spike", "kraken", "firing")]),
            (30, *SLACK, "firing", [("spike", "kraken", "firing")]),
        ],
    ),
    (
        "a new alert joining a group waits for the group_interval",
        [_fire("spike", "kraken", 0), _fire("spike", "kraken-2", 0), _fire("x", "kraken", 40)],
        400,
        [
            (30, *WEBHOOK, "firing", [("spike", "kraken", "firing")]),
            (30, *SLACK, "firing", [("spike", "kraken", "firing")]),
            (30, *WEBHOOK, "firing", [("spike", "kraken-2", "firing")]),
            (30, *SLACK, "firing", [("spike", "kraken-2", "firing")]),
            (70, *WEBHOOK, "firing", [("x", "kraken", "firing")]),
            (70, *SLACK, "firing", [("x", "kraken", "firing")]),
        ],
    ),
    (
        "resolved: to the channel that sends it; the other only logs it",
        [_fire("spike", "kraken", 0), _resolve("spike", "kraken", 100)],
        700,
        [
            (30, *WEBHOOK, "firing", [("spike", "kraken", "firing")]),
            (30, *SLACK, "firing", [("spike", "kraken", "firing")]),
            (330, *WEBHOOK, "resolved", [("spike", "kraken", "resolved")]),
        ],
    ),
    (
        "a flap inside group_wait is never sent",
        [_fire("spike", "kraken", 0), _resolve("spike", "kraken", 10)],
        700,
        [],
    ),
    (
        "inhibition: a venue's disconnect mutes its data_gap, not another venue's",
        [
            _fire("provider_disconnect", "kraken", 0, "critical"),
            _fire("data_gap", "kraken", 0),
            _fire("data_gap", "binance", 0),
        ],
        100,
        [
            # a child route matched (critical): the parent's receiver is not used
            (30, "pager", "pagerduty/0", "firing", [("provider_disconnect", "kraken", "firing")]),
            (30, *WEBHOOK, "firing", [("data_gap", "binance", "firing")]),
            (30, *SLACK, "firing", [("data_gap", "binance", "firing")]),
        ],
    ),
    (
        "once the disconnect resolves, the still-firing gap is sent at the next flush",
        [
            _fire("provider_disconnect", "kraken", 0),
            _fire("data_gap", "kraken", 0),
            _resolve("provider_disconnect", "kraken", 60),
        ],
        400,
        [
            (30, *WEBHOOK, "firing", [("provider_disconnect", "kraken", "firing")]),
            (30, *SLACK, "firing", [("provider_disconnect", "kraken", "firing")]),
            (330, *WEBHOOK, "resolved", [("provider_disconnect", "kraken", "resolved")]),
            (330, *WEBHOOK, "firing", [("data_gap", "kraken", "firing")]),
            (330, *SLACK, "firing", [("data_gap", "kraken", "firing")]),
        ],
    ),
]


@pytest.mark.parametrize(("case", "steps", "until", "expected"), TABLE, ids=[r[0] for r in TABLE])
def test_notification_timing_follows_alertmanager(case, steps, until, expected):
    assert sorted(_run(steps, until)) == sorted(expected)


def test_an_unchanged_firing_group_is_repeated_after_repeat_interval():
    sent = _run([_fire("spike", "kraken", 0)], 4 * 3600 + 700)
    webhook = [second for second, *channel, _, _ in sent if tuple(channel) == WEBHOOK]
    # flushes every 300 s from 30; the first whose last send is more than 4 h old
    assert webhook == [30, 30 + 49 * 300]


def test_a_silence_mutes_until_it_ends():
    silence = Silence("s1", parse_matchers(["alertname=spike"]), 0, 100 * S, "ops", "upgrade")
    sent = _run([_fire("spike", "kraken", 0), _fire("other", "kraken", 0)], 400, [silence])
    assert [(t, alerts[0][0]) for t, *channel, _, alerts in sent if tuple(channel) == WEBHOOK] == [
        (30, "other"),
        (330, "spike"),
    ]


@pytest.mark.parametrize(
    ("firing", "resolved", "entry", "send_resolved", "expected"),
    [
        ({"a"}, set(), None, True, True),  # first time something fires
        (set(), {"a"}, None, True, False),  # only resolved, never notified: nothing
        ({"a", "b"}, set(), ({"a"}, set()), True, True),  # a new firing alert
        (set(), {"a"}, ({"a"}, set()), False, True),  # all resolved: sent regardless
        (set(), {"a"}, (set(), {"b"}), True, False),  # fired and resolved between flushes
        ({"a"}, {"b"}, ({"a", "b"}, set()), True, True),  # newly resolved, send_resolved
        ({"a"}, {"b"}, ({"a", "b"}, set()), False, False),  # ... without it: wait for repeat
    ],
)
def test_needs_update_is_alertmanagers_dedup_rule(firing, resolved, entry, send_resolved, expected):
    from mdc.alerts.dispatch import LogEntry

    log = None if entry is None else LogEntry(frozenset(entry[0]), frozenset(entry[1]), 0)
    got = needs_update(
        log,
        frozenset(firing),
        frozenset(resolved),
        send_resolved=send_resolved,
        repeat_ns=S,
        now_ns=1,
    )
    assert got is expected


def test_an_alert_matching_both_sides_of_an_inhibit_rule_does_not_mute_itself():
    routing = parse_routing(
        yaml.safe_load(
            """
route: {receiver: r}
receivers: [{name: r, webhook_configs: [{}]}]
inhibit_rules:
  - {source_matchers: ["severity=~critical|error"], target_matchers: ["severity=~error|critical"],
     equal: [venue]}
"""
        ),
        "t",
    )
    dispatcher = Dispatcher(routing)
    for name, severity in (("a", "critical"), ("b", "error")):
        labels = (("alertname", name), ("severity", severity), ("venue", "v"))
        dispatcher.add(Transition(name, labels, "firing", 0, None, "1"), 0)
    assert all(not dispatcher.inhibited(a) for a in dispatcher.alerts.values())


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("route: {receiver: nobody}", "sends to 'nobody', which is not among the receivers"),
        ("route: {group_by: [a]}", "the top route needs a 'receiver'"),
        ("route: {receiver: r, group_wait: soon}\nreceivers: [{name: r}]", "group_wait: not a"),
        (
            "route: {receiver: r, routes: [{matchers: ['a=~(']}]}\nreceivers: [{name: r}]",
            "bad regex",
        ),
        ("receivers: [{name: r}]", "receivers are listed but there is no 'route:'"),
        ("route: {receiver: r}\nreceivers: [{name: r, slack: {}}]", "'<channel>_configs: [...]'"),
        ("route: {receiver: r, colour: red}\nreceivers: [{name: r}]", "unknown key 'colour'"),
    ],
)
def test_a_bad_routing_section_says_what_is_wrong(text, expected):
    with pytest.raises(RoutingError) as caught:
        parse_routing(yaml.safe_load(text), "alerts.yaml")
    assert str(caught.value).startswith("alerts.yaml: ") and expected in str(caught.value)


def test_matchers_parse_as_alertmanager_writes_them():
    labels = {"venue": "kraken", "severity": "critical"}
    assert Matcher.parse('venue="kraken"').matches(labels)
    assert Matcher.parse("venue=~kra.*").matches(labels)
    assert not Matcher.parse("venue=~kra").matches(labels)  # anchored
    assert Matcher.parse("symbol!~.+").matches(labels)  # a missing label is ""
    with pytest.raises(BadMatcher, match="say name=value"):
        Matcher.parse("venue kraken")


def test_a_restored_dispatcher_neither_resends_nor_forgets():
    """Saved after the first notification and restored (as after a collector restart), the
    still-firing alert is not sent again, and its later resolve is."""
    import msgspec

    routing = parse_routing(yaml.safe_load(ROUTING), "test")
    first = Dispatcher(routing)
    labels = (("alertname", "spike"), ("severity", "warning"), ("venue", "kraken"))
    first.add(Transition("spike", labels, "firing", 0, None, "1"), 0)
    assert len(first.flush_due(30 * S)) == 2  # webhook and slack
    saved = msgspec.msgpack.decode(msgspec.msgpack.encode(first.snapshot()))
    second = Dispatcher.restore(routing, saved, 100 * S)
    assert [second.flush_due(t * S) for t in (100, 130, 400)] == [[], [], []]
    second.add(Transition("spike", labels, "resolved", 0, 500 * S, ""), 500 * S)
    (resolved,) = second.flush_due(700 * S)
    assert resolved.status == "resolved" and resolved.integration.name == "webhook/0"
