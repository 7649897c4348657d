"""Binance adapter on real recorded messages, with expected values read off the raw text by hand."""

from decimal import Decimal as D
from pathlib import Path

import pytest

from mdc.errors import MalformedMessage
from mdc.events import Bar, BookDelta, Quote, Trade
from mdc.venues.base import HttpGet, Subscribed, VenueError
from mdc.venues.binance import Binance

VENUE = Binance()  # one venue object, as one connection has

FIXTURES = Path(__file__).parent.parent / "fixtures" / "binance"
LINES = [
    pytest.param(line.encode(), id=f"{path.name}:{no}")
    for path in sorted(FIXTURES.glob("*.jsonl"))
    for no, line in enumerate(path.read_text().splitlines(), start=1)
    if line.strip()
]
MS = 1_000_000


@pytest.mark.parametrize("raw", LINES)
def test_every_recorded_message_decodes(raw):
    for item in VENUE.decode(raw, 7):
        if isinstance(item, Trade | Quote | BookDelta | Bar):
            assert item.venue == "binance" and "-" in item.symbol and item.ts_recv == 7


def one(raw: bytes):
    (item,) = VENUE.decode(raw, 42)
    return item


def test_trade_buyer_maker_means_the_aggressor_sold():
    raw = (FIXTURES / "nautilus_singles.jsonl").read_bytes().splitlines()[0]
    assert one(raw) == Trade(
        "binance",
        "ETH-USDT",
        1639351062243 * MS,
        42,
        D("4149.74000000"),
        D("0.43870000"),
        "sell",
        705291099,
    )


def test_agg_trade_is_an_aggregate_in_its_own_id_space():
    raw = (FIXTURES / "nautilus_singles.jsonl").read_bytes().splitlines()[1]
    assert one(raw) == Trade(
        "binance",
        "ETH-USDT",
        1675759520847 * MS,
        42,
        D("1632.46000000"),
        D("0.34305000"),
        "buy",
        226532,
        aggregate=True,
    )


def test_book_ticker_with_and_without_a_time():
    raw = (FIXTURES / "nautilus_singles.jsonl").read_bytes().splitlines()[2]
    assert one(raw) == Quote(
        "binance",
        "ETH-USDT",
        1646199228121 * MS,
        42,
        D("4507.24000000"),
        D("2.35950000"),
        D("4507.25000000"),
        D("2.84570000"),
        update_id=12711621188,
    )
    raw = b'{"stream":"ftmusdt@bookTicker","data":{"u":800360982,"s":"FTMUSDT","b":"0.33989000",'
    raw += b'"B":"1565.60000000","a":"0.34012000","A":"703.00000000"}}'
    assert one(raw) == Quote(
        "binance",
        "FTM-USDT",
        42,
        42,
        D("0.33989000"),
        D("1565.60000000"),
        D("0.34012000"),
        D("703.00000000"),
        update_id=800360982,
    )


def test_depth_updates_keep_every_level_and_the_update_range():
    lines = (FIXTURES / "messages.jsonl").read_bytes().splitlines()
    assert one(lines[0]) == BookDelta(
        "binance",
        "XMR-BTC",
        1628952395768 * MS,
        42,
        (),
        ((D("0.00578700"), D("31.23100000")), (D("0.00578800"), D("26.04900000"))),
        717720856,
        717720857,
    )
    delta = one(lines[1])
    assert delta.symbol == "FTM-USDT" and (delta.first_update_id, delta.last_update_id) == (
        800360963,
        800360968,
    )
    assert delta.bids == (
        (D("0.33988000"), D("1500.00000000")),
        (D("0.33984000"), D("4625.80000000")),
        (D("0.33983000"), D("0")),
        (D("0.33974000"), D("0")),
    )
    assert delta.asks == ((D("0.34008000"), D("0")), (D("0.34034000"), D("2746.10000000")))
    assert one(lines[2]).bids == ((D("0.00007465"), D("152.00000000")),)


def test_open_kline_is_provisional_and_closed_kline_is_a_bar():
    open_kline = next(
        line
        for line in (FIXTURES / "messages.jsonl").read_bytes().splitlines()
        if b"ftmusdt@kline_1m" in line
    )
    assert VENUE.decode(open_kline, 42) == []
    closed = open_kline.replace(b'"x":false', b'"x":true')
    assert one(closed) == Bar(
        "binance",
        "FTM-USDT",
        1628952360000 * MS,
        42,
        D("0.34064000"),
        D("0.34070000"),
        D("0.33934000"),
        D("0.33993000"),
        D("208601.00000000"),
        60,
        78,
        # quote volume / volume, rounded to the store's 18 fractional digits (28 would not fit)
        D("0.339628140272577792"),
    )


def test_docs_examples_trade_and_symbol_split():
    docs = (FIXTURES / "docs_examples.jsonl").read_bytes().splitlines()
    trade = one(next(line for line in docs if b'"e":"trade"' in line))
    assert (trade.symbol, trade.price, trade.size, trade.side, trade.trade_id) == (
        "BNB-BTC",
        D("0.001"),
        D("100"),
        "sell",
        12345,
    )


def test_acks_and_errors_are_control_items():
    assert one(b'{"result":null,"id":312}') == Subscribed("request 312 acknowledged")
    assert one(b'{"result":["btcusdt@aggTrade"],"id":3}') == Subscribed("request 3 acknowledged")
    assert one(b'{"code":1,"msg":"Invalid value type: expected Boolean"}') == VenueError(
        1, "Invalid value type: expected Boolean", permanent=False
    )


def test_rest_depth_snapshot_and_trade_history():
    request = HttpGet("snapshot", "BTC-USDT", "/api/v3/depth")
    snap = VENUE.decode_snapshot(
        request, (FIXTURES / "rest" / "api_v3_depth_limit10.json").read_bytes(), 42
    )
    assert snap.update_id == 14527958487 and len(snap.bids) == 10
    assert snap.bids[:2] == (
        (D("60650.00000000"), D("0.00213000")),
        (D("60648.08000000"), D("0.06346000")),
    )
    assert snap.asks[0] == (D("60650.01000000"), D("0.61982000"))
    history = HttpGet(
        "trades",
        "BTC-USDT",
        "/api/v3/historicalTrades",
        (("symbol", "BTCUSDT"), ("fromId", "1111471896"), ("limit", "10")),
    )
    batch = VENUE.decode_trades(
        history, (FIXTURES / "rest" / "api_v3_historicalTrades.json").read_bytes(), 42
    )
    first, last = batch.trades[0], batch.trades[-1]
    assert (first.trade_id, first.price, first.size, first.side, first.ts_event) == (
        1111471896,
        D("60814.78000000"),
        D("0.00034000"),
        "sell",
        1634943219887 * MS,
    )
    assert (last.trade_id, last.side) == (1111471905, "buy")
    # A full page with no end id asked for means there may be more: the next page follows on.
    assert batch.next_request is None  # no backfill attached: a one-off request
    agg = VENUE.decode_agg_trades(
        "BTC-USDT", (FIXTURES / "rest" / "api_v3_aggTrades.json").read_bytes(), 42
    )
    assert (agg[0].trade_id, agg[0].price, agg[0].side, agg[0].aggregate) == (
        966492862,
        D("60759.60000000"),
        "buy",
        True,
    )


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"not json", "malformed"),
        (b'{"stream":"btcusdt@trade","data":{"e":"trade","s":"BTCUSDT"}}', "missing"),
        (
            b'{"stream":"btcusdt@trade","data":{"e":"trade","E":1,"s":"BTCUSDT","t":"x","p":"1",'
            b'"q":"1","T":1,"m":true}}',
            "Expected `int`",
        ),
        (
            b'{"stream":"btcusdt@trade","data":{"e":"trade","E":1,"s":"BTCUSDT","t":1,"p":"abc",'
            b'"q":"1","T":1,"m":true}}',
            "decimal",
        ),
        (b'{"stream":"btcusdt@nosuch","data":{}}', "unsupported"),
        (
            b'{"stream":"btcusdt@trade","data":{"e":"trade","E":1,"s":"BTCUSDT","t":1,"p":"1",',
            "truncated",
        ),
        (b'{"hello":"world"}', "neither"),
        (b"[1,2]", "Expected `object`"),
    ],
)
def test_malformed_messages_raise_with_a_reason(raw, reason):
    with pytest.raises(MalformedMessage) as info:
        VENUE.decode(raw, 1)
    assert reason.lower() in info.value.reason.lower()
    assert info.value.raw == raw
