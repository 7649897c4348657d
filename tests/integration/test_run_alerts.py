"""`mdc alerts replay` on what a real `mdc run` stored: the transitions match the stored status
events they come from, the window options hold, and a follower reading the same streams in
another interleaving (as the live log is read) gets the same transitions."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path

import pytest

from mdc.alerts.evaluator import AlertEvaluator, Transition
from mdc.alerts.rules import parse_rules
from mdc.events import Status
from mdc.store import Store
from mdc.timefmt import format_rfc3339_ns

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
"""


def _mdc(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "mdc.cli", *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=180,
    )


def test_replay_of_a_real_run_gives_the_transitions_of_its_stored_events(tmp_path: Path):
    data = str(tmp_path / "data")
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES)
    run = _mdc(
        "run",
        "--data-dir",
        data,
        "--venues",
        "kraken,alpaca",
        "--duration",
        "6",
        "--no-api",
        "--no-grpc",
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]

    replay = _mdc("alerts", "replay", "--rules", str(rules), "--data-dir", data)
    assert replay.returncode == 0, replay.stderr
    lines = [json.loads(line) for line in replay.stdout.splitlines()]
    assert {"alertname", "labels", "status", "startsAt", "endsAt", "value"} == set(lines[0])
    assert "transitions" in replay.stderr.splitlines()[-1]

    with Store.open(data, readonly=True) as store:
        streams = {s: [e for _, e in store.wal.read_events(s)] for s in store.wal.streams()}
    # not_connected: firing from each stored connection-level status that is not up (the
    # stop's 'disconnected' at least) until one that is
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
    assert not [ln for ln in lines if ln["alertname"] == "crossed_market"]
    ticks = [ln for ln in lines if ln["alertname"] == "tick"]
    assert len(ticks) > 20

    # --from/--to: only what starts inside the window
    middle = sorted(ln["startsAt"] for ln in ticks)[len(ticks) // 2]
    windowed = _mdc("alerts", "replay", "--rules", str(rules), "--data-dir", data, "--from", middle)
    later = [json.loads(line) for line in windowed.stdout.splitlines()]
    assert later and all(ln["startsAt"] >= middle for ln in later)

    # a follower of the same streams in another interleaving: the same transitions
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
