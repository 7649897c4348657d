"""One row the SQL columns cannot hold (written before the parsers refused such values) never
breaks a query: it is left out of SQL and Parquet with a warning, and stays in the WAL."""

from __future__ import annotations

import logging
import random
from decimal import Decimal

import msgspec

from mdc.store import Store
from mdc.store.synth import trades


def test_a_non_finite_price_in_the_store_breaks_no_query(tmp_path, caplog):
    rows = trades(random.Random(4), 20, first_id=1)
    poisoned = msgspec.structs.replace(rows[7], price=Decimal("NaN"))
    with Store.open(str(tmp_path)) as store:
        store.append([*rows[:7], poisoned, *rows[8:]])
        with caplog.at_level(logging.WARNING, logger="mdc.store"):
            assert store.query("select 1").rows == [(1,)]
            assert store.query("select count(*) from trades").rows == [(19,)]
            store.refresh()
            assert store.query("select count(*) from trades").rows == [(19,)]
        assert "1 stored row(s) cannot be represented" in caplog.text
        assert sum(1 for _ in store.iter_events()) == 20  # the WAL keeps it
