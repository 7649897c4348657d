"""Real simulator servers on 127.0.0.1, real websocket/HTTP clients, checked against truth."""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import time
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any

import aiohttp
import pytest
import websockets

from mdc.commands import simulate
from mdc.simulator.config import SimulatorConfig
from mdc.simulator.server import Simulator
from mdc.timefmt import parse_rfc3339_ns
from tests.unit.test_simulator_encoders import kraken_crc, set_level

TIMEOUT_S = 15
ALPACA_AUTH = {"action": "auth", "key": "sim-key", "secret": "sim-secret"}


def loads(frame: str | bytes) -> Any:
    return json.loads(frame, parse_float=Decimal)


def with_simulator(
    config: SimulatorConfig, body: Callable[[Simulator, aiohttp.ClientSession], Awaitable[None]]
) -> None:
    async def main() -> None:
        async with Simulator(config) as sim, aiohttp.ClientSession() as http:
            await asyncio.wait_for(body(sim, http), TIMEOUT_S)

    asyncio.run(main())


async def get_json(http: aiohttp.ClientSession, url: str, **kwargs: Any) -> tuple[int, Any]:
    async with http.get(url, **kwargs) as resp:
        return resp.status, loads(await resp.read())


async def frames(ws: Any, count: int) -> list[Any]:
    return [loads(await ws.recv()) for _ in range(count)]


def test_binance_stream_rest_and_truth() -> None:
    async def body(sim: Simulator, http: aiohttp.ClientSession) -> None:
        urls = sim.urls["binance"]
        streams = "btcusdt@trade/btcusdt@depth@100ms/btcusdt@bookTicker"
        async with websockets.connect(f"{urls.ws}?streams={streams}") as ws:
            received = await frames(ws, 150)
        depth = [f["data"] for f in received if f["stream"].endswith("@depth@100ms")]
        assert all(b["U"] == a["u"] + 1 for a, b in itertools.pairwise(depth))
        status, state = await get_json(
            http, f"{urls.http}/_sim/truth/book?symbol=BTC-USDT&update_id={depth[-1]['u']}"
        )
        assert status == 200 and state["update_id"] == depth[-1]["u"]
        _, truth = await get_json(http, f"{urls.http}/_sim/truth/trades?symbol=BTC-USDT")
        by_id = {t["trade_id"]: t for t in truth["trades"]}
        for trade in (f["data"] for f in received if f["stream"].endswith("@trade")):
            assert Decimal(by_id[trade["t"]]["price"]) == Decimal(trade["p"])
        status, snapshot = await get_json(http, f"{urls.http}/api/v3/depth?symbol=BTCUSDT&limit=5")
        assert status == 200 and len(snapshot["asks"]) == 5
        first = truth["trades"][0]["trade_id"]
        status, history = await get_json(
            http, f"{urls.http}/api/v3/historicalTrades?symbol=BTCUSDT&fromId={first}&limit=2"
        )
        assert status == 200 and [h["id"] for h in history] == [first, first + 1]
        status, error = await get_json(http, f"{urls.http}/api/v3/depth?symbol=FOO")
        assert (status, error["code"]) == (400, -1121)

    with_simulator(SimulatorConfig(venues=("binance",), rate=200), body)


def test_coinbase_and_kraken_handshakes_books_and_rest() -> None:
    async def body(sim: Simulator, http: aiohttp.ClientSession) -> None:
        async with websockets.connect(sim.urls["coinbase"].ws) as ws:
            await ws.send(
                json.dumps({"type": "subscribe", "product_ids": ["ETH-USD"], "channel": "level2"})
            )
            received = await frames(ws, 40)
        assert [f["sequence_num"] for f in received] == list(range(40))
        assert (
            received[0]["channel"] == "subscriptions"
            and received[1]["events"][0]["type"] == "snapshot"
        )
        ts = parse_rfc3339_ns(received[-1]["events"][0]["updates"][0]["event_time"])
        status, state = await get_json(
            http, f"{sim.urls['coinbase'].http}/_sim/truth/book?symbol=ETH-USD&ts={ts}"
        )
        assert status == 200 and state["ts_event"] == ts
        status, trades = await get_json(
            http, f"{sim.urls['coinbase'].http}/products/ETH-USD/trades?limit=3"
        )
        assert status == 200 and isinstance(trades, list)

        async with websockets.connect(sim.urls["kraken"].ws) as ws:
            assert loads(await ws.recv())["channel"] == "status"
            sub = {
                "method": "subscribe",
                "params": {"channel": "book", "symbol": ["BTC/USD"], "depth": 10},
                "req_id": 3,
            }
            await ws.send(json.dumps(sub))
            ack = loads(await ws.recv())
            assert ack["success"] and ack["req_id"] == 3
            books = [f for f in await frames(ws, 40) if f.get("channel") == "book"]
        bids: dict = {}
        asks: dict = {}
        for msg in books:
            data = msg["data"][0]
            for key, levels in (("bids", bids), ("asks", asks)):
                for lv in data[key]:
                    set_level(levels, lv["price"], lv["qty"])
            for levels, rev in ((bids, True), (asks, False)):
                for price in sorted(levels, reverse=rev)[10:]:
                    del levels[price]
            assert kraken_crc(bids, asks) == data["checksum"]
        ts = parse_rfc3339_ns(books[-1]["data"][0]["timestamp"])
        _, state = await get_json(
            http, f"{sim.urls['kraken'].http}/_sim/truth/book?symbol=BTC-USD&ts={ts}&depth=10"
        )
        assert [[Decimal(p), Decimal(q)] for p, q in state["bids"]] == [
            [p, bids[p]] for p in sorted(bids, reverse=True)
        ]
        status, rest = await get_json(
            http, f"{sim.urls['kraken'].http}/0/public/Trades?pair=XBTUSD&since=0"
        )
        assert status == 200 and rest["error"] == [] and "XXBTZUSD" in rest["result"]

    with_simulator(SimulatorConfig(venues=("coinbase", "kraken"), rate=200), body)


def test_alpaca_auth_flow_failure_and_rest() -> None:
    async def body(sim: Simulator, http: aiohttp.ClientSession) -> None:
        urls = sim.urls["alpaca"]
        async with websockets.connect(urls.ws) as bad:
            assert loads(await bad.recv())[0]["msg"] == "connected"
            await bad.send(json.dumps({"action": "auth", "key": "wrong", "secret": "x"}))
            assert loads(await bad.recv())[0]["code"] == 402
            with pytest.raises(websockets.ConnectionClosed):
                await bad.recv()
        async with websockets.connect(urls.ws) as ws:
            await ws.recv()
            await ws.send(json.dumps(ALPACA_AUTH))
            assert loads(await ws.recv())[0]["msg"] == "authenticated"
            await ws.send(
                json.dumps({"action": "subscribe", "trades": ["AAPL"], "quotes": ["AAPL"]})
            )
            assert loads(await ws.recv())[0]["T"] == "subscription"
            items = [i for f in await frames(ws, 40) for i in f]
        trades = [i for i in items if i["T"] == "t"]
        _, truth = await get_json(http, f"{urls.http}/_sim/truth/trades?symbol=AAPL")
        by_id = {t["trade_id"]: t for t in truth["trades"]}
        assert trades and all(Decimal(by_id[t["i"]]["price"]) == t["p"] for t in trades)
        headers = {"APCA-API-KEY-ID": "sim-key", "APCA-API-SECRET-KEY": "sim-secret"}
        status, page = await get_json(
            http, f"{urls.http}/v2/stocks/AAPL/trades?limit=5", headers=headers
        )
        assert status == 200 and page["symbol"] == "AAPL" and len(page["trades"]) == 5
        status, _ = await get_json(http, f"{urls.http}/v2/stocks/AAPL/trades")
        assert status == 401

    with_simulator(SimulatorConfig(venues=("alpaca",), rate=200), body)


def test_faults_over_http_corrupt_stall_close_and_slow_client() -> None:
    async def body(sim: Simulator, http: aiohttp.ClientSession) -> None:
        urls = sim.urls["binance"]
        async with websockets.connect(f"{urls.ws}?streams=ethusdt@depth") as ws:
            await ws.recv()
            _, conns = await get_json(http, f"{urls.http}/_sim/connections")
            conn_id = conns["connections"][0]["id"]
            async with http.post(
                f"{urls.http}/_sim/faults", json={"corrupt": 1.0, "connection": conn_id}
            ) as resp:
                assert resp.status == 200
            corrupted = 0
            while corrupted < 5:
                try:
                    json.loads(await ws.recv())
                except ValueError:
                    corrupted += 1
            for bad in ({"bogus": 1}, {"stall_s": "long"}, {"drop": 2}, {"connection": 999}):
                async with http.post(f"{urls.http}/_sim/faults", json=bad) as resp:
                    assert resp.status == 400, bad
            async with http.post(
                f"{urls.http}/_sim/faults", json={"corrupt": 0, "close_now": True}
            ) as resp:
                assert (await resp.json())["connections"] == [conn_id]
            with pytest.raises(websockets.ConnectionClosed):
                while True:
                    await ws.recv()

        async with websockets.connect(sim.urls["alpaca"].ws) as ws:
            await ws.recv()
            await ws.send(json.dumps(ALPACA_AUTH))
            await ws.recv()
            await ws.send(json.dumps({"action": "subscribe", "quotes": ["*"], "trades": ["*"]}))
            await ws.recv()
            sim.stall("alpaca", seconds=10)
            notice = loads(await ws.recv())
            assert notice[0]["code"] == 407
            with pytest.raises(websockets.ConnectionClosed):
                await ws.recv()

    config = SimulatorConfig(venues=("binance", "alpaca"), rate=300, send_queue_frames=20)
    with_simulator(config, body)


def test_an_outage_drops_clients_and_refuses_new_ones_until_it_ends() -> None:
    async def body(sim: Simulator, http: aiohttp.ClientSession) -> None:
        urls = sim.urls["kraken"]
        async with websockets.connect(urls.ws) as ws:
            await ws.recv()
            async with http.post(f"{urls.http}/_sim/market", json={"refuse_s": 1}) as resp:
                assert resp.status == 200
            ends = time.monotonic() + 1
            with pytest.raises(websockets.ConnectionClosed):
                while True:
                    await ws.recv()
        with pytest.raises(websockets.InvalidStatus) as refused:
            await websockets.connect(urls.ws)
        assert refused.value.response.status_code == 503
        while True:  # bounded by TIMEOUT_S
            try:
                async with websockets.connect(urls.ws) as ws:
                    assert time.monotonic() >= ends - 0.05
                    await ws.recv()
                    return
            except websockets.InvalidStatus:
                await asyncio.sleep(0.05)

    with_simulator(SimulatorConfig(venues=("kraken",)), body)


def test_simulate_command_prints_urls_and_exits_zero(capsys: pytest.CaptureFixture[str]) -> None:
    parser = argparse.ArgumentParser(prog="mdc")
    simulate.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(
        ["simulate", "--venues", "kraken,alpaca", "--duration", "0.3", "--seed", "3"]
    )
    assert args.func(args) == 0
    out = capsys.readouterr().out
    assert "kraken" in out and "ws://127.0.0.1:" in out and "/v2/iex" in out
    with pytest.raises(SystemExit):
        parser.parse_args(["simulate", "--help"])
    assert "--port-base" in capsys.readouterr().out
    bad = parser.parse_args(["simulate", "--venues", "nyse"])
    with pytest.raises(simulate.SimulatorConfigError):
        bad.func(bad)
