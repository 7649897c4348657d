"""SQL over the store: the seed's two queries (DuckDB spelling) over Parquet + WAL tail; errors."""

from __future__ import annotations

import random
import time
from collections import defaultdict
from decimal import Decimal

import pytest

from mdc.store import Store
from mdc.store.query import QueryError, format_result
from mdc.store.synth import trades

# Seed item 6, unchanged except DuckDB's spelling of first/last: first(x ORDER BY t).
OHLCV_SQL = """
SELECT time_bucket('1 hour', timestamp) AS bucket,
       symbol,
       first(price ORDER BY timestamp) AS open,
       max(price) AS high,
       min(price) AS low,
       last(price ORDER BY timestamp) AS close,
       sum(size) AS volume
FROM trades
WHERE timestamp > now() - interval '1 day'
GROUP BY bucket, symbol
"""
ORDER_FLOW_SQL = """
SELECT symbol,
       sum(CASE WHEN side = 'buy' THEN size ELSE 0 END) AS buy_volume,
       sum(CASE WHEN side = 'sell' THEN size ELSE 0 END) AS sell_volume
FROM trades
WHERE timestamp > now() - interval '5 minutes'
GROUP BY symbol
"""
HOUR = 3600 * 10**9


@pytest.fixture
def recent(tmp_path):
    """Trades of the last ~30 h (the query filters on now()), half projected, half in the WAL."""
    now = time.time_ns()
    rng = random.Random(11)
    evs = trades(rng, 3000, start_ns=now - 30 * HOUR, step_ns=18 * 10**9) + trades(
        rng, 500, symbol="ETH-USDT", start_ns=now - 20 * 60 * 10**9, step_ns=2 * 10**9
    )
    evs = [e for e in evs if e.ts_event < now]
    with Store.open(str(tmp_path)) as store:
        store.append(evs[:1500])
        store.refresh(jsonl=False, checkpoints=False)
        store.append(evs[1500:])
        yield store, evs, now


def test_seed_ohlcv_query_matches_a_direct_computation(recent):
    store, evs, now = recent
    result = store.query(OHLCV_SQL + " ORDER BY symbol, bucket")
    expected = defaultdict(list)
    for e in evs:
        if e.ts_event > now - 24 * HOUR:
            expected[(e.symbol, e.ts_event // HOUR)].append(e)
    rows = {(r[1], int(r[0].timestamp()) * 10**9 // HOUR): r[2:] for r in result.rows}
    assert result.columns == ["bucket", "symbol", "open", "high", "low", "close", "volume"]
    assert set(rows) <= set(expected) and len(set(expected) - set(rows)) <= 2  # now() moved on
    for key, (o, h, lo, c, v) in rows.items():
        group = expected[key]
        if any(e.ts_event <= now - 24 * HOUR for e in evs if (e.symbol, e.ts_event // HOUR) == key):
            continue  # the bucket straddles the 1-day cut
        assert (o, c) == (group[0].price, group[-1].price)
        assert (h, lo) == (max(e.price for e in group), min(e.price for e in group))
        assert v == sum(e.size for e in group)


def test_seed_order_flow_query_splits_buy_and_sell_volume_exactly(recent):
    store, evs, _now = recent
    rows = {r[0]: r[1:] for r in store.query(ORDER_FLOW_SQL).rows}
    cut = time.time_ns() - 5 * 60 * 10**9
    eth = [e for e in evs if e.symbol == "ETH-USDT" and e.ts_event > cut + 10**9]
    buy, sell = rows["ETH-USDT"]
    assert isinstance(buy, Decimal)
    assert buy >= sum(e.size for e in eth if e.side == "buy") > 0
    assert sell >= sum(e.size for e in eth if e.side == "sell") > 0
    assert buy + sell <= sum(e.size for e in evs if e.symbol == "ETH-USDT")


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        ("SELEC 1", "syntax error"),
        ("SELECT * FROM nope", "nope does not exist"),
        ("SELECT no_such_column FROM trades", "no_such_column"),
    ],
)
def test_bad_sql_is_one_clear_typed_error(recent, sql, message):
    store, _, _ = recent
    with pytest.raises(QueryError, match=message) as info:
        store.query(sql)
    assert "\n" not in str(info.value)


def test_result_formats_write_exact_decimals(recent):
    store, _, _ = recent
    result = store.query("SELECT 1.50::DECIMAL(38,18) AS p, 'a' AS s, NULL AS n")
    assert format_result(result, "csv") == "p,s,n\n1.5,a,\n"
    assert format_result(result, "json") == '{"p":"1.5","s":"a","n":null}\n'
    assert format_result(result, "table").splitlines()[0].split() == ["p", "s", "n"]


def test_empty_store_has_typed_empty_views(tmp_path):
    with Store.open(str(tmp_path)) as store:
        for table in ("trades", "quotes", "book_deltas", "bars"):
            assert store.query(f"SELECT count(*) FROM {table}").rows == [(0,)]
