"""Prices read as text and interned: the values and errors of msgspec's own Decimal decoding."""

from __future__ import annotations

from decimal import Decimal as D
from decimal import InvalidOperation

import msgspec
import pytest

from mdc.errors import MalformedMessage
from mdc.venues.base import ConnectionSequence
from mdc.venues.binance import Binance
from mdc.venues.coinbase import Coinbase
from mdc.venues.decimals import DecimalTexts, Price, PriceLevel, TextDecoder, textual
from mdc.venues.kraken import Kraken

AGG = (b'{"stream":"btcusdt@aggTrade","data":{"e":"aggTrade","E":2,"s":"BTCUSDT","a":7,'
       b'"p":@P,"q":"0.5","f":1,"l":1,"T":1,"m":true,"M":true}}')  # fmt: skip


def test_interned_values_equal_msgspec_and_are_shared() -> None:
    dec = DecimalTexts()
    for text in ("30000.10", "0.00000001", "1E+3", "-0", " 5 ", "1_000"):
        assert str(dec[text]) == str(msgspec.json.decode(f'"{text}"'.encode(), type=D))
    assert dec["30000.10"] is dec["30000.10"]
    assert str(dec[b"30000.12345678"]) == "30000.12345678"  # a raw JSON number, digits kept
    assert str(dec[b"0.1"]) == "0.1" and dec[b"0.1"] is dec[b"0.1"]


def test_decimals_pass_through_and_bad_text_raises() -> None:
    dec = DecimalTexts()
    value = D("1.50")
    assert dec[value] is value and len(dec) == 0
    with pytest.raises(InvalidOperation):
        dec["abc"]
    with pytest.raises(msgspec.ValidationError):
        dec[b"[1]"]


def test_interning_is_bounded() -> None:
    dec = DecimalTexts(limit=3)
    for i in range(10):
        dec[str(i)]
        assert len(dec) <= 3
    assert dec["9"] == D(9)


def test_twin_keeps_layout_tags_and_wire_names() -> None:
    class Row(msgspec.Struct, array_like=True, tag="r", tag_field="T"):
        price: Price
        size: D
        other: Price | None = None
        levels: tuple[PriceLevel, ...] = ()
        as_: int = msgspec.field(default=0, name="as")

    twin = textual(Row, str)
    row = msgspec.json.decode(b'["r","1.50","2",null,[["3","4"]],9]', type=twin)
    assert (row.price, row.size, row.levels, row.as_) == ("1.50", D(2), (("3", D(4)),), 9)
    assert textual(Row, str) is twin  # built once
    # A Price inside a union stays Decimal (msgspec allows no second string-like type there).
    assert msgspec.json.decode(b'["r","1","2","3.0"]', type=twin).other == D("3.0")


def test_text_decoder_falls_back_to_the_strict_schema() -> None:
    class Trade(msgspec.Struct):
        p: Price

    decoder = TextDecoder(Trade)
    assert decoder.decode(b'{"p":"1.5"}').p == "1.5"
    assert decoder.decode(b'{"p":1.5}').p == D("1.5")  # a number: strict, as before
    with pytest.raises(
        msgspec.ValidationError, match=r"Expected `decimal`, got `array` - at `\$.p`"
    ):
        decoder.decode(b'{"p":[]}')


def test_binance_number_price_still_decodes_and_bad_text_keeps_its_error() -> None:
    venue = Binance()
    (trade,) = venue.decode(AGG.replace(b"@P", b"30000.5"), 0)
    assert trade.price == D("30000.5") and str(trade.price) == "30000.5"
    (trade,) = venue.decode(AGG.replace(b"@P", b'"30000.50"'), 0)
    assert str(trade.price) == "30000.50"
    with pytest.raises(MalformedMessage, match=r"Invalid decimal string - at `\$.p`"):
        venue.decode(AGG.replace(b"@P", b'"3O000"'), 0)


def test_kraken_bad_price_keeps_the_strict_error() -> None:
    raw = (b'{"channel":"trade","type":"update","data":[{"symbol":"BTC/USD","side":"buy",'
           b'"price":@P,"qty":1.5,"ord_type":"limit","trade_id":4,'
           b'"timestamp":"2024-01-01T00:00:00.5Z"}]}')  # fmt: skip
    venue = Kraken()
    (trade,) = venue.decode(raw.replace(b"@P", b"42000.10"), 0)
    assert str(trade.price) == "42000.10"
    with pytest.raises(MalformedMessage, match=r"Invalid decimal string - at `\$.data\[0\].price`"):
        venue.decode(raw.replace(b"@P", b'"x"'), 0)


def test_coinbase_bad_price_leaves_no_trace_of_the_message() -> None:
    """A malformed message must not advance the connection sequence: the next one still shows
    the loss of the one that could not be read."""

    def book(seq: int, price: str) -> bytes:
        level = f'{{"side":"bid","event_time":"2024-01-01T00:00:00.1Z","price_level":"{price}",'
        level += '"new_quantity":"1"}'
        return (f'{{"channel":"l2_data","client_id":"","timestamp":"2024-01-01T00:00:00.1Z",'
                f'"sequence_num":{seq},"events":[{{"type":"update","product_id":"BTC-USD",'
                f'"updates":[{level}]}}]}}').encode()  # fmt: skip

    venue = Coinbase()
    venue.decode(book(1, "100.0"), 0)
    with pytest.raises(MalformedMessage, match="Invalid decimal string"):
        venue.decode(book(2, "1O0.0"), 0)
    items = venue.decode(book(2, "100.5"), 0)  # not dropped as a re-delivery of number 2
    assert items[0] == ConnectionSequence(2) and items[1].bids == ((D("100.5"), D(1)),)
