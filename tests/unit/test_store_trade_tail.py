"""The resume lookup's read of a trades stream: only ids and times decoded, same answer as
decoding the whole trades."""

from __future__ import annotations

import random

import msgspec

from mdc.events import Gap, Trade
from mdc.store import Store
from mdc.store.streams import stream_of
from mdc.store.synth import trades


def test_trade_ids_tail_equals_the_full_decode_and_leaves_out_aggregates(tmp_path):
    evs = trades(random.Random(3), 40)
    evs[5] = msgspec.structs.replace(evs[5], aggregate=True, trade_id=10**6)
    evs[7] = msgspec.structs.replace(evs[7], trade_id=None)
    evs.insert(20, Gap("binance", "BTC-USDT", 1, 2, stream="trades", reason="lost", from_id=3))
    with Store.open(str(tmp_path)) as store:
        store.append(evs)
        stream = stream_of(evs[0])
        expected = [
            (e.trade_id or 0, e.ts_event)
            for e in store.tail(stream, 39)
            if isinstance(e, Trade) and not e.aggregate
        ]
        got = store.trade_ids_tail(stream, 39)
        assert store.trade_ids_tail(stream, 3) == expected[-3:]
    assert got == expected and len(got) == 37  # the last 39, less the aggregate and the gap
    assert (0, evs[7].ts_event) in got  # no id: resumed by its time
