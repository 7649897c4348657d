"""Event contracts: exact round trips through both encodings, and identity rules."""

from decimal import Decimal

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mdc.events import (
    Bar,
    BookDelta,
    BookSnapshot,
    Gap,
    Quote,
    Status,
    Trade,
    from_json,
    from_msgpack,
    identity,
    to_json,
    to_msgpack,
)

decimals = st.decimals(allow_nan=False, allow_infinity=False, places=None).filter(
    lambda d: d.is_finite() and abs(d.adjusted()) < 30
)
sizes = st.decimals(min_value=0, max_value=10**9, allow_nan=False, places=8)
ns = st.integers(min_value=0, max_value=2**63 - 1)
names = st.text(min_size=1, max_size=12)
levels = st.tuples(st.tuples(decimals, sizes), st.tuples(decimals, sizes)).map(tuple)
ids = st.none() | st.integers(min_value=0, max_value=2**63 - 1)

trades = st.builds(
    Trade,
    names,
    names,
    ns,
    ns,
    decimals,
    sizes,
    st.sampled_from(["buy", "sell", "unknown"]),
    ids,
    st.none() | names,
    st.lists(names, max_size=3).map(tuple),
    st.none() | names,
    st.booleans(),
)
quotes = st.builds(
    Quote,
    names,
    names,
    ns,
    ns,
    decimals | st.none(),
    sizes | st.none(),
    decimals | st.none(),
    sizes | st.none(),
    update_id=ids,
)
snapshots = st.builds(BookSnapshot, names, names, ns, ns, levels, levels, ids, ids)
deltas = st.builds(BookDelta, names, names, ns, ns, levels, levels, ids, ids, ids)
bars = st.builds(
    Bar,
    names,
    names,
    ns,
    ns,
    decimals,
    decimals,
    decimals,
    decimals,
    sizes,
    st.integers(1, 86400),
    ids,
    decimals | st.none(),
)
gaps = st.builds(
    Gap,
    names,
    names,
    ns,
    ns,
    st.sampled_from(["trades", "book", "connection"]),
    names,
    ids,
    ids,
    ids,
)
statuses = st.builds(Status, names, st.just(""), ns, ns, st.sampled_from(["connected", "failed"]))
any_event = trades | quotes | snapshots | deltas | bars | gaps | statuses


@settings(max_examples=300, deadline=None)
@given(any_event)
def test_json_and_msgpack_round_trip_exactly(event):
    for back in (from_json(to_json(event)), from_msgpack(to_msgpack(event))):
        assert back == event
        assert type(back) is type(event)
        # Exact means the same text too: Decimal('1.10') must not come back as Decimal('1.1').
        assert to_json(back) == to_json(event)


def test_json_writes_decimals_as_strings_and_a_type_field():
    trade = Trade("binance", "BTC-USDT", 1, 2, Decimal("0.10"), Decimal("3"), "buy", 7)
    doc = msgspec.json.decode(to_json(trade))
    assert doc["type"] == "trade"
    assert doc["price"] == "0.10"
    assert doc["size"] == "3"


def test_decoding_rejects_a_float_price_rather_than_rounding_it():
    raw = b'{"type":"trade","venue":"v","symbol":"s","ts_event":1,"ts_recv":1,"price":0.1,'
    raw += b'"size":"1","side":"buy","trade_id":1}'
    # msgspec reads JSON numbers into Decimal from their text: 0.1 stays exactly 0.1.
    assert from_json(raw).price == Decimal("0.1")
    with pytest.raises(msgspec.ValidationError):
        from_json(raw.replace(b'"buy"', b'"sideways"'))


def test_identity_ignores_receive_time_and_separates_id_spaces():
    trade = Trade("binance", "BTC-USDT", 1, 2, Decimal("1"), Decimal("1"), "buy", 7)
    again = msgspec.structs.replace(trade, ts_recv=99)
    assert identity(trade) == identity(again)
    agg = msgspec.structs.replace(trade, aggregate=True)
    assert identity(agg) != identity(trade)
    other_exchange = msgspec.structs.replace(trade, exchange="Q")
    assert identity(other_exchange) != identity(trade)


def test_identity_of_id_less_events_is_their_content():
    delta = BookDelta("kraken", "BTC-USD", 5, 6, ((Decimal("1.0"), Decimal("2")),), ())
    assert identity(delta) == identity(msgspec.structs.replace(delta, ts_recv=7))
    changed = msgspec.structs.replace(delta, bids=((Decimal("1.0"), Decimal("3")),))
    assert identity(changed) != identity(delta)
    later = msgspec.structs.replace(delta, ts_event=6)
    assert identity(later) != identity(delta)
