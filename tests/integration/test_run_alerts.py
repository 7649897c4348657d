"""Alerting on what a real `mdc run --alerts` did: the seed's four rules (at test scale) fire on
the simulator's matching faults (a price jump, a trade halt, crossed quotes, refused
connections); the live follower's notifications reach a local webhook receiver and are the
transitions `mdc alerts replay` finds in the same store; a follower reading the streams in
another interleaving gets the replay's transitions too; after a restart nothing already sent is
sent again, and a silence set with the CLI mutes its alerts."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import orjson
import pytest

from actors.waiting import wait_until_sync
from mdc.alerts.evaluator import AlertEvaluator, Transition
from mdc.alerts.rules import parse_rules
from mdc.events import Status
from mdc.store import Store
from mdc.timefmt import format_rfc3339_ns, parse_rfc3339_ns
from tests.integration.receivers import ThreadedCapture

pytestmark = pytest.mark.ray

UP = {"connected", "authenticated", "subscribed"}
DOWN = {"connecting", "disconnected", "failed"}

RULES = """
alerts:
  - name: not_connected
    condition: "provider_status != 'connected'"
    severity: critical
  - name: crossed_market
    condition: "bid_price > ask_price"
  - name: tick
    condition: "price != previous_price"
    severity: info
  - name: quiet_quotes
    condition: "time_since_last_quote > 300ms"
  - name: price_spike
    condition: "abs(price - previous_price) / previous_price > 0.05"
    window: "3 seconds"
    severity: warning
  - name: data_gap
    condition: "time_since_last_trade > 1 second"
    symbols: ["MSFT"]
    severity: critical
  - name: provider_disconnect
    condition: "provider_status != 'connected' for 1 second"
    severity: critical
route:
  receiver: hook
  group_by: ['...']
  group_wait: 0s
  group_interval: 1s
receivers:
  - name: hook
    webhook_configs: [{url_env: MDC_TEST_HOOK}]
"""


def _mdc(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    done = subprocess.run(
        [sys.executable, "-m", "mdc.cli", *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=180,
        env=env,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done


def _run(data: str, rules: Path, hook: str, seconds: str) -> None:
    env = {**os.environ, "MDC_TEST_HOOK": hook}
    argv = ["run", "--data-dir", data, "--venues", "kraken,alpaca", "--duration", seconds]
    _mdc(*argv, "--no-api", "--no-grpc", "--alerts", str(rules), env=env)


def _history(data: str) -> list[dict]:
    """The live follower's transitions so far (a line being appended is skipped)."""
    path = Path(data) / "alerts" / "transitions.jsonl"
    lines = path.read_text().splitlines() if path.exists() else []
    return [json.loads(line) for line in lines if line.endswith("}")]


def _seen(data: str, alertname: str, status: str, **labels: str) -> dict | None:
    for t in _history(data):
        if (t["alertname"], t["status"]) == (alertname, status) and (
            labels.items() <= t["labels"].items()
        ):
            return t
    return None


def _wait_seen(data: str, alertname: str, status: str, **labels: str) -> dict:
    what = f"{alertname} {status} {labels} in the live history"
    return wait_until_sync(lambda: _seen(data, alertname, status, **labels), 60, what)


def _simulator(data: str) -> dict | None:
    path = Path(data) / "simulator.json"
    return json.loads(path.read_text())["venues"] if path.exists() else None


def _fault(venue: dict, body: dict) -> None:
    request = urllib.request.Request(
        f"{venue['http']}/_sim/market", data=json.dumps(body).encode(), method="POST"
    )
    with urllib.request.urlopen(request, timeout=10) as reply:
        assert json.loads(reply.read())["ok"]


FAULTS = {
    # (rule, venue, symbol or None): the fault that makes it fire
    ("price_spike", "kraken", "BTC-USD"): {"symbol": "BTC-USD", "jump_pct": 8},
    ("crossed_market", "alpaca", "AAPL"): {"symbol": "AAPL", "cross_quotes_s": 1},
    ("data_gap", "alpaca", "MSFT"): {"symbol": "MSFT", "halt_trades_s": 3},
    ("provider_disconnect", "kraken", None): {"refuse_s": 2.5},
}


def _run_with_faults(data: str, rules: Path, hook: str) -> None:
    """`mdc run` until each fault's alert fired and resolved, and the follower saved 3.5 s past
    the last (the live history is compared up to 3 s before its last save); then Ctrl-C."""
    argv = [sys.executable, "-m", "mdc.cli", "run", "--data-dir", data, "--venues", "kraken,alpaca"]
    argv += ["--no-api", "--no-grpc", "--alerts", str(rules)]
    env = {**os.environ, "MDC_TEST_HOOK": hook}
    with subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE) as run:
        try:
            _inject_faults(data)
        finally:
            run.send_signal(signal.SIGINT)
            out, err = run.communicate(timeout=120)
    assert run.returncode == 0, out[-3000:] + err[-3000:]


def _inject_faults(data: str) -> None:
    sim = wait_until_sync(lambda: _simulator(data), 60, "mdc run's simulator.json")
    for venue, symbol in (("kraken", "BTC-USD"), ("alpaca", "MSFT")):
        _wait_seen(data, "tick", "firing", venue=venue, symbol=symbol)  # trades are flowing
    for (rule, venue, _), body in FAULTS.items():
        if rule == "provider_disconnect":  # after the jump's trade is stored
            _wait_seen(data, "price_spike", "firing")
        _fault(sim[venue], body)
    resolved = [
        _wait_seen(data, rule, "resolved", venue=venue, **({"symbol": symbol} if symbol else {}))
        for rule, venue, symbol in FAULTS
    ]
    last = max(parse_rfc3339_ns(t["endsAt"]) for t in resolved)
    saved = Path(data) / "alerts" / "active.json"
    wait_until_sync(
        lambda: json.loads(saved.read_text())["written"] > last + 35 * 10**8, 30, "a later save"
    )


def _sent(requests) -> list[dict]:
    """Each alert of each notification: (each alert is its own group here)."""
    return [alert for r in requests for alert in orjson.loads(r.body)["alerts"]]


def test_alerting_on_a_real_run(tmp_path: Path):
    data = str(tmp_path / "data")
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES)
    with ThreadedCapture() as hook:
        _run_with_faults(data, rules, hook.url)
        first = _sent(hook.requests)
    assert first, "the live follower sent nothing"

    replay = _mdc("alerts", "replay", "--rules", str(rules), "--data-dir", data)
    lines = [json.loads(line) for line in replay.stdout.splitlines()]
    assert "transitions" in replay.stderr.splitlines()[-1]
    # what the live follower sent is what the replay finds (the follower starts at the log's
    # end as it was when it started, so the replay has more: the first events)
    replayed = {
        (json.dumps(ln["labels"], sort_keys=True), ln["startsAt"], ln["status"]) for ln in lines
    }
    for alert in first:
        key = (json.dumps(alert["labels"], sort_keys=True), alert["startsAt"], alert["status"])
        assert key in replayed, alert

    _check_live_history(data, lines)

    with Store.open(data, readonly=True) as store:
        streams = {s: [e for _, e in store.wal.read_events(s)] for s in store.wal.streams()}
    _check_not_connected(lines, streams)
    _check_faults_fired(lines)
    assert len([ln for ln in lines if ln["alertname"] == "tick"]) > 20
    _check_interleaving(lines, streams)

    listed = _mdc("alerts", "list", "--data-dir", data).stdout
    assert "tick" in listed or "nothing pending or firing" in listed
    silence = _mdc(
        "alerts", "silence", "--match", "alertname=tick", "--for", "1h", "--data-dir", data
    ).stdout.strip()
    assert silence in _mdc("alerts", "silences", "--data-dir", data).stdout

    with ThreadedCapture() as hook:
        _run(data, rules, hook.url, "4")
        second = _sent(hook.requests)
    keys = [(a["fingerprint"], a["startsAt"], a["status"]) for a in first + second]
    assert len(keys) == len(set(keys)), "a notification was sent twice"
    assert not [a for a in second if a["labels"]["alertname"] == "tick"], "silenced"


def _check_faults_fired(lines: list[dict]) -> None:
    """Each fault's rule fired for its venue (and symbol) and for nothing else."""
    for rule, venue, symbol in FAULTS:
        fired = {
            (ln["labels"]["venue"], ln["labels"].get("symbol"))
            for ln in lines
            if ln["alertname"] == rule and ln["status"] == "firing"
        }
        assert fired == {(venue, symbol)}, rule


def _check_not_connected(lines: list[dict], streams: dict) -> None:
    """Firing from each stored connection-level status that is not up until one that is."""
    for venue in ("kraken", "alpaca"):
        stored = [e for s, es in streams.items() if s.venue == venue for e in es]
        states = [e for e in stored if isinstance(e, Status) and e.symbol == ""]
        expected, since = [], None
        for state in states:
            if state.state in UP and since is not None:
                expected.append(("resolved", since, format_rfc3339_ns(state.ts_recv)))
                since = None
            elif state.state in DOWN and since is None:
                since = format_rfc3339_ns(state.ts_recv)
                expected.append(("firing", since, "0001-01-01T00:00:00Z"))
        mine = [
            (ln["status"], ln["startsAt"], ln["endsAt"])
            for ln in lines
            if ln["alertname"] == "not_connected" and ln["labels"]["venue"] == venue
        ]
        assert expected and mine == expected, venue


def _check_interleaving(lines: list[dict], streams: dict) -> None:
    """A follower of the same streams in another interleaving: the replay's transitions."""
    follower, rng = AlertEvaluator(parse_rules(RULES)), random.Random(7)
    cursors = dict.fromkeys(streams, 0)
    got: list[Transition] = []
    while cursors:
        stream = rng.choice(sorted(cursors))
        chunk = streams[stream][cursors[stream] : cursors[stream] + rng.randint(1, 50)]
        cursors[stream] += len(chunk)
        if cursors[stream] >= len(streams[stream]):
            del cursors[stream]
        for event in chunk:
            got += follower.feed(event)
    last = max(e.ts_recv for es in streams.values() for e in es)
    got += follower.advance(last)
    assert sorted(json.dumps(t.to_dict(), sort_keys=True) for t in got) == sorted(
        json.dumps(ln, sort_keys=True) for ln in lines
    )


def _check_live_history(data: str, replayed: list[dict]) -> None:
    """The live evaluator's transitions (alerts/transitions.jsonl) are the replay's, up to a
    few seconds before its last save (grace 2 s; it stopped before the providers did)."""
    alerts_dir = Path(data) / "alerts"
    live = [
        json.loads(line) for line in (alerts_dir / "transitions.jsonl").read_text().splitlines()
    ]
    cutoff = json.loads((alerts_dir / "active.json").read_text())["written"] - 3 * 10**9

    def early(lines: list[dict]) -> set[str]:
        def moment(t: dict) -> int:
            return parse_rfc3339_ns(t["startsAt"] if t["status"] == "firing" else t["endsAt"])

        return {json.dumps(t, sort_keys=True) for t in lines if moment(t) <= cutoff}

    assert len(early(live)) >= 3
    assert early(live) == early(replayed)
