"""Subscribers of a real `mdc run` (simulated venues, Ray, the writer's fsync'd log): the trades
they got are the trades stored for the same window, each once and in stored order; filters hold;
a subscriber resuming from another one's position continues it with no gap and no duplicate;
stalled subscribers (one per slow-consumer policy) do not hold the others back;
`mdc subscribe` prints the JSON lines of `mdc normalize` plus positions; GraphQL's trades are the
stored ones."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import grpc
import httpx
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from actors.waiting import wait_until_sync
from chaos.replication import log_of, replicate_once
from mdc.events import Trade, identity, to_json
from mdc.store import Store
from mdc.store.streams import Stream
from serve.ab import ABRouter
from serve.app import build_app
from serve.auth import KeyRing
from serve.deployment import free_port
from serve.http_limits import serving, uvicorn_config
from tests.integration.test_grpc_stream import KEY, Collector, Stalled
from tests.unit.test_serve_doubles import DictFeatureSource, LinearModel

pytestmark = pytest.mark.ray


def _serving(target: str) -> bool:
    with grpc.insecure_channel(target) as channel:
        try:
            answer = health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(service="mdc.v1.MarketDataService"), timeout=2
            )
        except grpc.RpcError:
            return False
    return answer.status == health_pb2.HealthCheckResponse.SERVING


def _stored_trades(data_dir: str) -> dict[Stream, list[Trade]]:
    with Store.open(data_dir, readonly=True) as store:
        return {
            s: [e for _, e in store.wal.read_events(s)]
            for s in store.wal.streams()
            if s.family == "trades"
        }


def _by_stream(events) -> dict[Stream, list[bytes]]:
    out: dict[Stream, list[bytes]] = {}
    for e in events:
        out.setdefault(Stream(e.venue, "trades", e.symbol), []).append(identity(e))
    return out


def test_subscribers_of_mdc_run_get_the_stored_trades_exactly_once(tmp_path):
    data = str(tmp_path / "data")
    port = free_port()
    target = f"127.0.0.1:{port}"
    argv = [sys.executable, "-m", "mdc.cli", "run", "--data-dir", data, "--no-api"]
    argv += ["--venues", "binance,kraken", "--grpc-port", str(port), "--duration", "26"]
    env = {**os.environ, "MDC_API_KEYS": KEY}
    proc = subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env
    )
    subs: list[Collector] = []
    stalled: list[Stalled] = []
    try:
        wait_until_sync(lambda: _serving(target), 90, "the gRPC server")
        since = time.time_ns()
        everything = Collector(target, start=since)
        kraken = Collector(target, venues=["kraken"], symbols=["BTC-*"], start=since)
        subs += [everything, kraken]
        everything.wait_for(300)
        cut = 150
        resumed = Collector(target, start=everything.got[cut].position)
        subs.append(resumed)
        # three subscribers that never read (one per policy) from here to the end of the run
        stalled = [Stalled(target, policy) for policy in (1, 2, 3)]
        stalled_since = time.time_ns()
        cli = subprocess.run(
            [sys.executable, "-m", "mdc.cli", "subscribe", "--target", target, "--count", "5"],
            check=False,
            capture_output=True,
            text=True,
            env={**env, "MDC_API_KEY": KEY},
            timeout=60,
        )
        assert cli.returncode == 0, cli.stderr
        # a follower store in another region copies the running collector's log
        copied = replicate_once(f"grpc://{target}", tmp_path / "replica", KEY)
        assert copied.returncode == 0, copied.stderr
    finally:
        out, _ = proc.communicate(timeout=120)
        for sub in subs:
            sub.close()
        for one in stalled:
            one.channel.close()
    assert proc.returncode == 0, out[-3000:]
    assert "gRPC market data on" in out

    with Store.open(data, readonly=True) as primary:
        replica = log_of(tmp_path / "replica")
        assert sum(map(len, replica.values())) > 300
        for stream, events in replica.items():  # what it holds is the primary's, at the seqs
            assert events == list(primary.wal.read(stream, 0, len(events))), stream

    stored = _stored_trades(data)
    got = _by_stream(g.event for g in everything.got)
    assert set(got) == {s for s in stored if s.venue in ("binance", "kraken")}
    for stream, ids in got.items():
        window = [identity(e) for e in stored[stream] if e.ts_recv >= since]
        assert ids == window[: len(ids)], stream  # every stored trade since then, once, in order
        assert len(ids) > 0.5 * len(window)  # and most of the run (the rest came after the stop)

    # beside the stalled ones, the live subscriber kept up: it got (nearly) everything stored
    # while they stalled, up to the last two seconds before the server stopped
    last = max(g.event.ts_recv for g in everything.got)
    in_stall = [e for s in got for e in stored[s] if stalled_since <= e.ts_recv <= last - 2 * 10**9]
    delivered = {identity(g.event) for g in everything.got if g.event.ts_recv >= stalled_since}
    assert len(in_stall) > 100
    assert sum(identity(e) in delivered for e in in_stall) >= 0.9 * len(in_stall)

    filtered = _by_stream(g.event for g in kraken.got)
    assert set(filtered) == {Stream("kraken", "trades", "BTC-USD")}
    assert (
        filtered[Stream("kraken", "trades", "BTC-USD")]
        == got[Stream("kraken", "trades", "BTC-USD")][: len(kraken.got)]
    )

    # per stream (streams interleave by what was durable when each read): the events after the
    # position, with no gap and no duplicate at the replay-to-live handoff
    after = _by_stream(g.event for g in everything.got[cut + 1 :])
    continued = _by_stream(g.event for g in resumed.got)
    assert sum(map(len, continued.values())) > 100
    for stream, ids in continued.items():
        assert ids == after[stream][: len(ids)], stream

    lines = [json.loads(line) for line in cli.stdout.splitlines()]
    assert len(lines) == 5 and all(line["type"] == "trade" and line["position"] for line in lines)
    shape = json.loads(to_json(Trade("v", "s", 0, 0, 1, 1, "buy", 1)))
    assert [set(line) - {"position"} for line in lines] == [set(shape)] * 5

    # the same run's store through GraphQL: the seed's query gives what was stored
    app = build_app(
        ABRouter(LinearModel("v1"), LinearModel("v2"), 0.0),
        DictFeatureSource({}),
        KeyRing([KEY]),
        store_dir=data,
    )
    stream = Stream("kraken", "trades", "BTC-USD")
    window = sorted(stored[stream], key=lambda e: (e.ts_event, e.ts_recv))[:500]
    start, end = window[0].ts_event, window[-1].ts_event
    query = (
        f'{{ trades(symbol: "BTC-USD", venue: "kraken", from: "{start}", to: "{end}") '
        "{ price size side tsEvent } }"
    )
    with serving(uvicorn_config(app, log_level="warning", lifespan="off")) as url:
        answer = httpx.post(f"{url}/graphql", json={"query": query}, headers={"X-API-Key": KEY})
    rows = answer.json()["data"]["trades"]
    expected = [e for e in window if e.ts_event < end]
    assert [(r["price"], r["size"], r["side"], int(r["tsEvent"])) for r in rows] == [
        (format(e.price.normalize(), "f"), format(e.size.normalize(), "f"), e.side, e.ts_event)
        for e in expected
    ]
