"""Values the store cannot hold, or that the venue's semantics forbid, make the whole message
malformed at the parser, for every venue, through the one check (mdc.venues.storable): websocket
messages, REST answers, and JSON nested deeper than the decoder goes. Values at the edges pass."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from mdc.errors import MalformedMessage
from mdc.events import Bar, Trade
from mdc.venues.base import HttpGet, Session, SessionConfig
from mdc.venues.registry import get_venue
from mdc.venues.storable import problem, ratio

T0 = 1_700_000_000_000_000_000
VENUES = ("binance", "coinbase", "kraken", "alpaca")
TRADES = {
    "binance": b'{"stream":"btcusdt@trade","data":{"e":"trade","E":1700000000123,"s":"BTCUSDT",'
    b'"t":%(id)s,"p":%(price)s,"q":%(size)s,"T":1700000000121,"m":true,"M":true}}',
    "coinbase": b'{"type":"match","trade_id":%(id)s,"side":"buy","size":%(size)s,'
    b'"price":%(price)s,"product_id":"BTC-USD","sequence":1,"time":"2021-04-17T16:43:37.08Z"}',
    "kraken": b'{"channel":"trade","type":"update","data":[{"symbol":"BTC/USD","side":"buy",'
    b'"price":%(price)s,"qty":%(size)s,"ord_type":"market","trade_id":%(id)s,'
    b'"timestamp":"2026-07-09T17:20:01.456789Z"}]}',
    "alpaca": b'[{"T":"t","i":%(id)s,"S":"AAPL","x":"D","p":%(price)s,"s":%(size)s,'
    b'"t":"2021-02-22T15:51:44.208Z"}]',
}
BOOKS = {
    "binance": b'{"stream":"btcusdt@depth@100ms","data":{"e":"depthUpdate","E":1628952395768,'
    b'"s":"BTCUSDT","U":1,"u":2,"b":[[%(price)s,%(size)s]],"a":[]}}',
    "coinbase": b'{"type":"l2update","product_id":"BTC-USD","changes":[["buy",%(price)s,%(size)s]],'
    b'"time":"2021-04-17T16:43:37.075687Z"}',
    "kraken": b'{"channel":"book","type":"update","data":[{"symbol":"BTC/USD","bids":[{"price":'
    b'%(price)s,"qty":%(size)s}],"asks":[],"checksum":1,"timestamp":"2026-07-09T17:20:01.1Z"}]}',
}
QUOTES = {
    "binance": b'{"u":7,"s":"BTCUSDT","b":%(price)s,"B":%(size)s,"a":"2","A":"3"}',
    "coinbase": b'{"type":"ticker","sequence":3,"product_id":"BTC-USD","best_bid":%(price)s,'
    b'"best_bid_size":%(size)s,"time":"2021-04-17T16:43:30.244075Z"}',
    "kraken": b'{"channel":"ticker","type":"update","data":[{"symbol":"BTC/USD","bid":%(price)s,'
    b'"bid_qty":%(size)s,"ask":2,"ask_qty":3}]}',
    "alpaca": b'[{"T":"q","S":"AMD","bx":"U","bp":%(price)s,"bs":%(size)s,"ax":"Q","ap":87.68,'
    b'"as":4,"t":"2021-02-22T15:51:45.335689322Z"}]',
}
GOOD = {"id": b"5", "price": b'"1.5"', "size": b'"2"'}


def message(template: bytes, **values: bytes) -> bytes:
    return template % {name.encode(): value for name, value in {**GOOD, **values}.items()}


def refused(venue: str, data: bytes) -> str:
    with pytest.raises(MalformedMessage) as caught:
        get_venue(venue).parse(data, T0)
    return caught.value.reason


@pytest.mark.parametrize("venue", VENUES)
@pytest.mark.parametrize(
    ("field", "value", "why"),
    [
        ("price", b'"NaN"', "price NaN is not a finite number"),
        ("price", b'"Infinity"', "price Infinity is not a finite number"),
        ("price", b'"-Infinity"', "is not a finite number"),
        ("price", b'"sNaN"', "is not a finite number"),
        ("price", b'"1E+400"', "price 1E+400 has more than 20 integer digits"),
        ("price", b'"123456789012345678901"', "has more than 20 integer digits"),
        ("price", b'"0.0000000000000000001"', "more than 18 fractional digits"),
        ("price", b'"-1"', "price -1 must be > 0"),
        ("price", b'"0"', "price 0 must be > 0"),
        ("size", b'"0"', "size 0 must be > 0"),
        ("size", b'"-0.5"', "size -0.5 must be > 0"),
        ("id", str(2**63).encode(), "trade_id 9223372036854775808 does not fit"),
        ("id", b"-1", "trade_id -1 does not fit"),
    ],
)
def test_a_trade_the_store_cannot_hold_is_malformed(venue, field, value, why):
    data = message(TRADES[venue], **{field: value})
    assert why in refused(venue, data)
    with pytest.raises(MalformedMessage):  # the live path too: dead-lettered by the provider
        Session(get_venue(venue), SessionConfig(symbols=("*",), key="k", secret="s")).receive(
            data, T0
        )


@pytest.mark.parametrize("venue", VENUES)
def test_a_trade_id_of_ten_to_the_40_is_refused(venue):
    refused(venue, message(TRADES[venue], id=b"1" + b"0" * 40))


@pytest.mark.parametrize("venue", VENUES)
@pytest.mark.parametrize(
    ("price", "size", "id"),
    [
        (b'"0.000000000000000001"', b'"99999999999999999999.999999999999999999"', b"0"),
        (b'"1.00000000000000000000000"', b'"1E+19"', str(2**63 - 1).encode()),
    ],
)
def test_edges_the_store_holds_exactly_pass(venue, price, size, id):
    [trade] = get_venue(venue).parse(message(TRADES[venue], price=price, size=size, id=id), T0)
    assert (trade.price, trade.size, trade.trade_id) == (
        D(price.strip(b'"').decode()), D(size.strip(b'"').decode()), int(id)
    )  # fmt: skip


@pytest.mark.parametrize("venue", sorted(BOOKS))
def test_book_levels_need_a_positive_price_and_a_size_of_zero_or_more(venue):
    [delta] = get_venue(venue).parse(message(BOOKS[venue], size=b'"0"'), T0)
    assert delta.bids == ((D("1.5"), D(0)),)  # 0 removes the level
    assert "bids[0] size -1 must be >= 0" in refused(venue, message(BOOKS[venue], size=b'"-1"'))
    assert "bids[0] price 0 must be > 0" in refused(venue, message(BOOKS[venue], price=b'"0"'))
    assert "is not a finite number" in refused(venue, message(BOOKS[venue], size=b'"NaN"'))


@pytest.mark.parametrize("venue", VENUES)
def test_quotes_may_be_zero_but_not_negative(venue):
    get_venue(venue).parse(message(QUOTES[venue], size=b'"0"'), T0)
    assert "bid_price -1 must be >= 0" in refused(venue, message(QUOTES[venue], price=b'"-1"'))
    assert "bid_size Infinity" in refused(venue, message(QUOTES[venue], size=b'"Infinity"'))


def deep(n: int = 100_000) -> bytes:
    return b"[" * n + b"]" * n


def with_deep_field(data: bytes) -> bytes:
    """An unknown field holding a deep value: the decoder descends into it to skip it."""
    i = data.index(b"{") + 1
    return data[:i] + b'"zz":' + deep() + b"," + data[i:]


@pytest.mark.parametrize("venue", VENUES)
def test_json_nested_too_deep_is_one_malformed_message(venue):
    for data in (b'{"a":' * 100_000, with_deep_field(message(TRADES[venue]))):
        assert refused(venue, data) == "nested too deep to decode"
    refused(venue, b"[" * 100_000)  # unbalanced: malformed too, whichever reason comes first


def test_rest_answers_are_checked_too():
    session = Session(get_venue("binance"), SessionConfig(symbols=("BTC-USDT",)))
    request = HttpGet("trades", "BTC-USDT", "/api/v3/historicalTrades")
    nan = b'[{"id":1,"price":"NaN","qty":"1","time":1499865549590,"isBuyerMaker":true}]'
    for body, why in ((nan, "price NaN"), (b"[" + with_deep_field(b'{"id":1}') + b"]", "too deep")):
        with pytest.raises(MalformedMessage, match=why):
            session.http_response(request, 200, body, T0)


def test_a_ratio_we_derive_is_rounded_to_the_store_scale_and_nothing_else_is():
    assert ratio(D(10), D(4)) == D("2.5") and str(ratio(D(10), D(4))) == "2.5"
    assert ratio(D(1), D(3)) == D("0.333333333333333333")
    bar = Bar("binance", "X", 0, 0, D(1), D(1), D(1), D(1), D(3), 60, 1, ratio(D(1), D(3)))
    assert problem([bar]) is None
    trade = Trade("binance", "X", 0, 0, D(1) / D(3), D(1), "buy", 1)
    assert "price 0.3333333333333333333333333333 has more than 18" in problem([trade])
