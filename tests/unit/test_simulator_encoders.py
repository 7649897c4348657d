"""Each venue's frames, driven sans-I/O: documented shapes, and a client-side replay that must
agree with the simulator's ground truth (books, trades, checksums). The replays here are
deliberately tiny and independent of mdc.book / mdc.venues."""

from __future__ import annotations

import json
import zlib
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import pytest

from mdc.simulator.config import SimulatorConfig
from mdc.simulator.driver import VenueDriver
from mdc.simulator.encoders.base import HandshakeRejected, SessionOutput
from mdc.timefmt import parse_rfc3339_ns

T0 = 1_700_000_040_000_000_000  # a minute boundary
MS = 1_000_000
CONFIG = SimulatorConfig(seed=7, rate=200, auth_timeout_s=1.0, subscribe_deadline_s=1.0)


def loads(frame: str) -> Any:
    return json.loads(frame, parse_float=Decimal)


class Harness:
    """One venue driver and one session, advanced on a fake clock in 10 ms steps."""

    def __init__(
        self,
        venue: str,
        path: str,
        query: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        config: SimulatorConfig = CONFIG,
    ) -> None:
        self.driver = VenueDriver(venue, config)
        self.driver.advance(T0)
        self.now = T0
        self.session = self.driver.venue.open_session(path, query or {}, headers or {})
        self.frames: list[str] = []
        self.closed = False
        self._take(self.session.on_open(T0))

    def _take(self, out: SessionOutput) -> None:
        self.frames += out.control + out.data
        self.closed = self.closed or out.close

    def send(self, msg: Any) -> list[str]:
        before = len(self.frames)
        self._take(
            self.session.on_message(msg if isinstance(msg, str) else json.dumps(msg), self.now)
        )
        return self.frames[before:]

    def run(self, seconds: float) -> list[str]:
        before = len(self.frames)
        for _ in range(int(seconds * 100)):
            self.now += 10 * MS
            self._take(self.session.on_publications(self.driver.advance(self.now), self.now))
            self._take(self.session.on_tick(self.now))
        return self.frames[before:]


def set_level(levels: dict[Decimal, Decimal], price: Decimal, qty: Decimal) -> None:
    """Client-side L2 rule shared by all four venues: absolute size, zero removes."""
    if qty == 0:
        levels.pop(price, None)
    else:
        levels[price] = qty


def assert_trades_match_truth(
    truth_trades: list, wire: list[tuple[int, Decimal, Decimal, str, int]]
) -> None:
    by_id = {t.trade_id: t for t in truth_trades}
    assert len(wire) > 10
    for trade_id, price, size, side, ts in wire:
        t = by_id[trade_id]
        assert (t.price, t.size, t.side, t.ts_event) == (price, size, side, ts)


def test_binance_combined_stream_matches_truth() -> None:
    streams = "btcusdt@trade/btcusdt@depth@100ms/btcusdt@bookTicker"
    h = Harness("binance", "/stream", {"streams": streams})
    frames = [loads(f) for f in h.run(2.0)]
    assert {f["stream"] for f in frames} == set(streams.split("/"))
    truth = h.driver.truth
    book: dict[str, dict[Decimal, Decimal]] = {}
    last_u, last_e, wire_trades = None, 0, []
    for frame in frames:
        data = frame["data"]
        if frame["stream"].endswith("@trade"):
            assert set(data) == {"e", "E", "s", "t", "p", "q", "T", "m", "M"}
            side = "sell" if data["m"] else "buy"
            wire_trades.append(
                (data["t"], Decimal(data["p"]), Decimal(data["q"]), side, data["T"] * MS)
            )
        elif frame["stream"].endswith("@bookTicker"):
            assert set(data) == {"u", "s", "b", "B", "a", "A"} and Decimal(data["b"]) < Decimal(
                data["a"]
            )
        else:
            assert data["e"] == "depthUpdate" and data["s"] == "BTCUSDT" and data["E"] > last_e
            assert all(len(p.split(".")[1]) == 8 for p, _ in data["b"] + data["a"])
            if last_u is None:
                state = truth.book("BTC-USDT", update_id=data["U"] - 1)
                book = {"b": dict(state.bids), "a": dict(state.asks)}
            else:
                assert data["U"] == last_u + 1
            for key in ("b", "a"):
                for p, q in data[key]:
                    set_level(book[key], Decimal(p), Decimal(q))
            expected = truth.book("BTC-USDT", update_id=data["u"])
            assert book["b"] == dict(expected.bids) and book["a"] == dict(expected.asks)
            last_u, last_e = data["u"], data["E"]
    assert_trades_match_truth(truth.trades("BTC-USDT"), wire_trades)
    ids = [t[0] for t in wire_trades]
    assert ids == list(range(ids[0], ids[0] + len(ids)))


def test_binance_live_subscribe_raw_stream_and_rest() -> None:
    h = Harness("binance", "/ws/ethusdt@trade")
    assert loads(h.send({"method": "SUBSCRIBE", "params": ["ethusdt@depth"], "id": 5})[0]) == {
        "result": None,
        "id": 5,
    }
    assert "error" in loads(h.send({"method": "SUBSCRIBE", "params": ["nonsense"], "id": 6})[0])
    frames = [loads(f) for f in h.run(1.0)]
    assert {f["e"] for f in frames} == {"trade", "depthUpdate"}
    venue = h.driver.venue
    depth = loads(venue.rest("/api/v3/depth", {"symbol": "ETHUSDT", "limit": "5"}, {}).body)
    assert (
        depth["lastUpdateId"] == h.driver.model.symbols["ETH-USDT"].update_id
        and len(depth["bids"]) == 5
    )
    trades = h.driver.truth.trades("ETH-USDT")
    page = loads(
        venue.rest(
            "/api/v3/historicalTrades",
            {"symbol": "ETHUSDT", "fromId": str(trades[1].trade_id), "limit": "3"},
            {},
        ).body
    )
    assert [t["id"] for t in page] == [t.trade_id for t in trades[1:4]]
    assert Decimal(page[0]["price"]) == trades[1].price
    bad = venue.rest("/api/v3/depth", {"symbol": "NOPE"}, {})
    assert bad.status == 400 and loads(bad.body) == {"code": -1121, "msg": "Invalid symbol."}
    assert (
        venue.rest("/api/v3/historicalTrades", {"symbol": "ETHUSDT", "limit": "1001"}, {}).status
        == 400
    )
    with pytest.raises(HandshakeRejected):
        venue.open_session("/stream", {"streams": "btcusdt@bogus"}, {})


def test_coinbase_advanced_trade_frames_match_truth() -> None:
    h = Harness("coinbase", "/")
    h.run(0.5)
    for channel in ("level2", "market_trades", "heartbeats"):
        h.send({"type": "subscribe", "product_ids": ["BTC-USD"], "channel": channel})
    frames = [loads(f) for f in h.run(2.5)]
    all_frames = [loads(f) for f in h.frames]
    assert [f["sequence_num"] for f in all_frames] == list(range(len(all_frames)))
    assert {f["channel"] for f in frames} == {"l2_data", "market_trades", "heartbeats"}
    truth, book, wire_trades, last_ts = h.driver.truth, {"bid": {}, "offer": {}}, [], 0
    for frame in all_frames:
        for event in frame["events"]:
            if frame["channel"] == "l2_data":
                assert event["type"] == ("snapshot" if not last_ts else "update")
                for u in event["updates"]:
                    price, qty = Decimal(u["price_level"]), Decimal(u["new_quantity"])
                    set_level(book[u["side"]], price, qty)
                ts = parse_rfc3339_ns(event["updates"][0]["event_time"])
                assert ts > last_ts or event["type"] == "snapshot"
                last_ts = ts
                state = truth.book("BTC-USD", ts_event=ts)
                assert book["bid"] == dict(state.bids) and book["offer"] == dict(state.asks)
            elif frame["channel"] == "market_trades" and event["type"] == "update":
                for t in event["trades"]:
                    assert t["trade_id"].isdigit() and t["side"] in ("BUY", "SELL")
                    wire_trades.append(
                        (
                            int(t["trade_id"]),
                            Decimal(t["price"]),
                            Decimal(t["size"]),
                            t["side"].lower(),
                            parse_rfc3339_ns(t["time"]),
                        )
                    )
    assert_trades_match_truth(truth.trades("BTC-USD"), wire_trades)
    beats = [f["events"][0]["heartbeat_counter"] for f in frames if f["channel"] == "heartbeats"]
    assert beats == list(range(1, len(beats) + 1)) and len(beats) >= 2


def test_coinbase_rest_paging_and_errors() -> None:
    h = Harness("coinbase", "/")
    h.run(2.0)
    venue, trades = h.driver.venue, h.driver.truth.trades("ETH-USD")
    newest = loads(venue.rest("/products/ETH-USD/trades", {"limit": "5"}, {}).body)
    assert [t["trade_id"] for t in newest] == [t.trade_id for t in reversed(trades[-5:])]
    assert newest[0]["side"] == ("sell" if trades[-1].side == "buy" else "buy")
    older = loads(
        venue.rest(
            "/products/ETH-USD/trades", {"after": str(newest[-1]["trade_id"]), "limit": "5"}, {}
        ).body
    )
    assert [t["trade_id"] for t in older] == [t.trade_id for t in reversed(trades[-10:-5])]
    book = loads(venue.rest("/products/ETH-USD/book", {"level": "2"}, {}).body)
    state = h.driver.truth.book("ETH-USD", update_id=book["sequence"])
    assert [[Decimal(p), Decimal(q)] for p, q, _ in book["bids"]] == [
        list(lv) for lv in state.bids[:50]
    ]
    assert venue.rest("/products/NOPE-USD/book", {}, {}).status == 404
    error = loads(h.send({"type": "subscribe", "product_ids": ["NOPE"], "channel": "level2"})[0])
    assert error["type"] == "error"


def test_coinbase_closes_without_subscribe() -> None:
    h = Harness("coinbase", "/")
    h.run(1.5)
    assert h.closed and loads(h.frames[-1])["type"] == "error"


def kraken_crc(bids: dict, asks: dict) -> int:
    def text(levels: list) -> str:
        return "".join(
            format(p, "f").replace(".", "").lstrip("0")
            + format(q, "f").replace(".", "").lstrip("0")
            for p, q in levels[:10]
        )

    return (
        zlib.crc32((text(sorted(asks.items())) + text(sorted(bids.items(), reverse=True))).encode())
        & 0xFFFFFFFF
    )


@pytest.mark.parametrize("depth", [10, 25])
def test_kraken_book_checksums_truncation_and_truth(depth: int) -> None:
    h = Harness("kraken", "/v2")
    assert loads(h.frames[0])["channel"] == "status"
    h.run(0.5)
    sub = {
        "method": "subscribe",
        "params": {"channel": "book", "symbol": ["BTC/USD"], "depth": depth, "snapshot": True},
        "req_id": 1,
    }
    ack, snapshot = (loads(f) for f in h.send(sub))
    assert ack["success"] is True and ack["req_id"] == 1 and ack["result"]["depth"] == depth
    assert snapshot["type"] == "snapshot"
    frames = [snapshot] + [loads(f) for f in h.run(3.0)]
    book_msgs = [f for f in frames if f.get("channel") == "book"]
    assert len(book_msgs) > 100
    bids: dict = {}
    asks: dict = {}
    last_ts = 0
    for msg in book_msgs:
        data = msg["data"][0]
        for side, levels in (("bids", bids), ("asks", asks)):
            for level in data[side]:
                assert (
                    isinstance(level["price"], Decimal) and level["qty"].as_tuple().exponent == -8
                )
                set_level(levels, level["price"], level["qty"])
        for levels, reverse in ((bids, True), (asks, False)):
            for price in sorted(levels, reverse=reverse)[depth:]:
                del levels[price]
        assert kraken_crc(bids, asks) == data["checksum"]
        ts = parse_rfc3339_ns(data["timestamp"])
        assert ts > last_ts or msg["type"] == "snapshot"
        last_ts = ts
        state = h.driver.truth.book("BTC-USD", ts_event=ts).top(depth)
        assert bids == dict(state.bids) and asks == dict(state.asks)
    assert any(f == {"channel": "heartbeat"} for f in frames)


def test_kraken_trades_ping_errors_and_rest() -> None:
    h = Harness("kraken", "/v2")
    h.send(
        {
            "method": "subscribe",
            "params": {"channel": "trade", "symbol": ["ETH/USD"], "snapshot": False},
        }
    )
    pong = loads(h.send({"method": "ping", "req_id": 7})[0])
    assert pong["method"] == "pong" and pong["req_id"] == 7
    assert (
        loads(
            h.send({"method": "subscribe", "params": {"channel": "book", "symbol": ["XYZ/USD"]}})[0]
        )["success"]
        is False
    )
    frames = [loads(f) for f in h.run(2.0)]
    wire = [
        (t["trade_id"], t["price"], t["qty"], t["side"], parse_rfc3339_ns(t["timestamp"]))
        for f in frames
        if f.get("channel") == "trade"
        for t in f["data"]
    ]
    trades = h.driver.truth.trades("ETH-USD")
    assert_trades_match_truth(trades, wire)
    venue = h.driver.venue
    first = loads(
        venue.rest(
            "/0/public/Trades",
            {"pair": "ETHUSD", "since": str(trades[0].ts_event - 1), "count": "5"},
            {},
        ).body
    )
    rows = first["result"]["XETHZUSD"]
    assert [r[6] for r in rows][:5] == [t.trade_id for t in trades[: len(rows)]][:5]
    nxt = loads(
        venue.rest(
            "/0/public/Trades", {"pair": "ETHUSD", "since": first["result"]["last"]}, {}
        ).body
    )
    assert nxt["result"]["XETHZUSD"][0][6] == rows[-1][6] + 1
    assert loads(venue.rest("/0/public/Trades", {"pair": "NOPE"}, {}).body)["error"] == [
        "EQuery:Unknown asset pair"
    ]
    depth = loads(venue.rest("/0/public/Depth", {"pair": "XBTUSD", "count": "3"}, {}).body)
    assert len(depth["result"]["XXBTZUSD"]["asks"]) == 3


ALPACA_AUTH = {"action": "auth", "key": CONFIG.alpaca_key, "secret": CONFIG.alpaca_secret}


def test_alpaca_auth_subscribe_and_batched_data() -> None:
    h = Harness("alpaca", "/v2/iex")
    assert loads(h.frames[0]) == [{"T": "success", "msg": "connected"}]
    assert loads(h.send({"action": "subscribe", "trades": ["AAPL"]})[0])[0]["code"] == 401
    assert loads(h.send(ALPACA_AUTH)[0]) == [{"T": "success", "msg": "authenticated"}]
    assert loads(h.send(ALPACA_AUTH)[0])[0]["code"] == 403
    assert loads(h.send("not json")[0])[0]["code"] == 400
    sub = loads(
        h.send({"action": "subscribe", "trades": ["AAPL"], "quotes": ["AAPL"], "bars": ["*"]})[0]
    )
    assert sub == [{"T": "subscription", "trades": ["AAPL"], "quotes": ["AAPL"], "bars": ["*"]}]
    frames = [loads(f) for f in h.run(2.0)]
    assert all(isinstance(f, list) for f in frames) and max(len(f) for f in frames) > 1
    items = [i for f in frames for i in f]
    truth = h.driver.truth
    for q in (i for i in items if i["T"] == "q"):
        assert set(q) == {
            "T",
            "S",
            "bx",
            "bp",
            "bs",
            "ax",
            "ap",
            "as",
            "c",
            "z",
            "t",
        } and isinstance(q["bs"], int)
        state = truth.book("AAPL", ts_event=parse_rfc3339_ns(q["t"]))
        assert (q["bp"], q["bs"], q["ap"], q["as"]) == (
            state.bids[0][0],
            state.bids[0][1],
            state.asks[0][0],
            state.asks[0][1],
        )
    trades = [i for i in items if i["T"] == "t"]
    assert all(set(t) == {"T", "i", "S", "x", "p", "s", "c", "z", "t"} for t in trades)
    sides = {t.trade_id: t.side for t in truth.trades("AAPL")}
    wire = [
        (t["i"], t["p"], Decimal(t["s"]), sides[t["i"]], parse_rfc3339_ns(t["t"])) for t in trades
    ]
    assert_trades_match_truth(truth.trades("AAPL"), wire)
    assert {i["S"] for i in items} == {"AAPL"}


def test_alpaca_bad_key_timeout_and_connection_limit() -> None:
    bad = Harness("alpaca", "/v2/sip")
    assert (
        loads(bad.send({"action": "auth", "key": "x", "secret": "y"})[0])[0]["code"] == 402
        and bad.closed
    )
    slow = Harness("alpaca", "/v2/test")
    slow.run(1.2)
    assert loads(slow.frames[-1])[0]["code"] == 404 and slow.closed
    first = Harness("alpaca", "/v2/iex")
    first.send(ALPACA_AUTH)
    second = first.driver.venue.open_session("/v2/iex", {}, {})
    out = second.on_message(json.dumps(ALPACA_AUTH), T0)
    assert loads(out.control[0])[0]["code"] == 406 and out.close
    first.session.on_close()
    assert (
        loads(second.on_message(json.dumps(ALPACA_AUTH), T0).control[0])[0]["msg"]
        == "authenticated"
    )
    assert loads(first.session.on_slow_client()[0])[0]["code"] == 407
    with pytest.raises(HandshakeRejected):
        first.driver.venue.open_session("/v2/nasdaq", {}, {})


def test_alpaca_bars_and_rest_paging() -> None:
    h = Harness(
        "alpaca",
        "/v2/iex",
        headers={"APCA-API-KEY-ID": CONFIG.alpaca_key, "APCA-API-SECRET-KEY": CONFIG.alpaca_secret},
    )
    assert loads(h.frames[1]) == [{"T": "success", "msg": "authenticated"}]
    h.send({"action": "subscribe", "bars": ["MSFT"]})
    h.now = T0 + 59 * 1_000_000_000
    bars = [i for f in h.run(2.0) for i in loads(f)]
    assert len(bars) == 1 and bars[0]["T"] == "b" and bars[0]["t"].endswith(":00Z")
    venue, trades = h.driver.venue, h.driver.truth.trades("MSFT")
    in_bar = [t for t in trades if t.ts_event < T0 + 60 * 1_000_000_000]
    assert bars[0]["n"] == len(in_bar) and bars[0]["v"] == sum(int(t.size) for t in in_bar)
    assert bars[0]["o"] == in_bar[0].price and bars[0]["c"] == in_bar[-1].price
    headers = {"APCA-API-KEY-ID": CONFIG.alpaca_key, "APCA-API-SECRET-KEY": CONFIG.alpaca_secret}
    got, token = [], None
    while True:
        query = {"limit": "700"} | ({"page_token": token} if token else {})
        page = loads(venue.rest("/v2/stocks/MSFT/trades", query, headers).body)
        got += [t["i"] for t in page["trades"]]
        token = page["next_page_token"]
        if token is None:
            break
    assert got == [t.trade_id for t in h.driver.truth.trades("MSFT")]
    assert venue.rest("/v2/stocks/MSFT/trades", {}, {}).status == 401
    assert (
        venue.rest(
            "/v2/stocks/MSFT/trades", {}, {"APCA-API-KEY-ID": "x", "APCA-API-SECRET-KEY": "y"}
        ).status
        == 403
    )
    assert venue.rest("/v2/stocks/MSFT/trades", {"start": "yesterday"}, headers).status == 400


@pytest.mark.parametrize("symbol", ["BTC-USD", "ETH-USD", "SOL-USD", "DOGE-USD", "DOGE-EUR"])
def test_kraken_rest_knows_every_pair_the_collector_asks_for(symbol: str) -> None:
    """The collector names pairs by Kraken's legacy asset codes (XBT, XDG); a restarted provider
    backfilling DOGE-USD was told "Unknown asset pair" and gave up for good."""
    from mdc.sync import FetchTrades
    from mdc.venues.base import SessionConfig
    from mdc.venues.kraken import Kraken

    config = SimulatorConfig(venues=("kraken",), symbols={"kraken": (symbol,)})
    venue = VenueDriver("kraken", config).venue
    fetch = FetchTrades(symbol, from_id=None, to_id=None, from_ts=1)
    request = Kraken().trades_request(fetch, SessionConfig(symbols=(symbol,)))
    assert request is not None
    reply = venue.rest(request.path, dict(request.params), {})
    assert reply.status == 200 and json.loads(reply.body)["error"] == []
