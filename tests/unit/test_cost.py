"""The cost view: the exact model (mdc/cost/) on hand-computed inputs, the store walker on a
store written by the real Store API, the usage totals of status.json, and `mdc cost`."""

from __future__ import annotations

import json
import os
import random
from collections import Counter
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import pytest

from actors.panel import STATUS_FILE, USAGE, UsageTotals, write_status
from mdc.cli import main
from mdc.cost import (
    DAY_NS,
    GB,
    PRICE_NAMES,
    BadPrice,
    CostError,
    CostInputs,
    ProviderUsage,
    StorageRow,
    UnitPrices,
    cost_report,
    money,
    render_text,
)
from mdc.store import synth
from mdc.store.store import Store
from mdc.store.streams import Stream
from serve import cost_api
from serve.cost_api import NO_STATUS, SegmentCache, read_usage, walk_store
from tests.unit.test_store_projections import book_sync

T0 = 1_700_000_000_000_000_000


def row(stream: str, kind: str, nbytes: int, events: int = 0, *, tier: str = "wal") -> StorageRow:
    """`stream` is venue/family/symbol."""
    venue, family, symbol = stream.split("/")
    return StorageRow(venue, family, symbol, kind, tier, nbytes, events)


# -- the model: exact arithmetic --------------------------------------------------------------


def hand_example() -> CostInputs:
    """1 GB stored (0.1 GB of it `other`, which does not grow) over 3 days; 3 GB in, 1 MB out and
    20 API calls over 1 day."""
    return CostInputs(
        storage=(
            row("binance/book/BTC-USDT", "book_delta", 600_000_000, 1000),
            row("binance/trades/BTC-USDT", "trade", 300_000_000, 1500),
            row("//", "dlq", 100_000_000, tier="other"),
        ),
        storage_span_ns=3 * DAY_NS,
        usage=(
            ProviderUsage(
                "binance",
                messages=10,
                ws_bytes_in=2 * GB,
                ws_bytes_out=1_000_000,
                rest_bytes_in=GB,
                api_calls={"connect": 2, "snapshot": 10, "trades": 8},
            ),
        ),
        usage_span_ns=DAY_NS,
    )


def test_the_monthly_projection_is_exact_on_a_hand_computed_example():
    m = cost_report(hand_example()).monthly
    # storage: 0.9 GB grew in 3 days -> +9 GB in 30; billed on the average 1 + 9/2 = 5.5 GB
    assert m.storage_now_bytes == GB and m.storage_growth_bytes == 9 * GB
    assert m.storage_cost == Decimal("0.023") * Decimal("5.5") == Decimal("0.126500")
    # network in: 3 GB a day -> 90 GB at 0.01; out: 1 MB a day -> 0.03 GB at 0.09
    assert (m.ingress_bytes, m.ingress_cost) == (90 * GB, Decimal("0.900000"))
    assert (m.egress_bytes, m.egress_cost) == (30_000_000, Decimal("0.002700"))
    # API: 20 calls a day, the start's (a connect, a snapshot of the one book) counted once:
    # 2 + 18 * 30 = 542 at 0.05 per 1000
    assert (m.api_calls, m.api_cost) == (542, Decimal("0.027100"))
    assert m.total_cost == Decimal("1.056300")


def test_prices_change_the_costs_exactly_and_round_once_half_even():
    prices = UnitPrices.parse({"storage_gb_month": "1", "ingress_gb": "0", "api_calls_1000": "0"})
    inputs = CostInputs(
        storage=(row("binance/trades/X", "trade", GB, 3),),
        storage_span_ns=7 * DAY_NS,
    )
    m = cost_report(inputs, prices).monthly
    exact = 1 + Fraction(30, 7) / 2  # GB-months: 1 now + half of 30/7 grown, never a float
    assert m.storage_cost == money(exact) == Decimal("3.142857")
    assert money(Fraction(1, 2_000_000)) == Decimal("0.000000")  # half-even: 0.0000005 -> 0
    assert money(Fraction(3, 2_000_000)) == Decimal("0.000002")


def test_tables_share_the_bytes_largest_first():
    report = cost_report(hand_example())
    assert [(s.key, s.bytes, str(s.share)) for s in report.by_type] == [
        (("book", "book_delta"), 600_000_000, "0.6000"),
        (("trades", "trade"), 300_000_000, "0.3000"),
        (("", "dlq"), 100_000_000, "0.1000"),
    ]
    assert [s.key for s in report.by_venue] == [("binance",), ("",)]
    assert report.totals["use"] == 1500  # trades of the store: the default use
    provider = report.providers[0]
    assert provider.startup_calls == 2
    assert provider.calls_per_hour == Decimal("0.75")  # 18 recurring a day
    assert provider.monthly_cost == Decimal("0.929800")


def test_empty_store_and_no_usage_say_so_and_cost_nothing():
    report = cost_report(CostInputs())
    assert report.monthly.total_cost == 0 and not report.recommendations
    assert any("store is empty" in n for n in report.notes)
    assert any("nothing to cost yet" in n for n in report.notes)
    assert report.as_dict()["storage"]["by_venue"] == []


def test_zero_spans_give_no_rate_and_a_clear_note():
    inputs = CostInputs(
        storage=(row("binance/trades/X", "trade", GB, 1),),
        storage_span_ns=0,
        usage=(ProviderUsage("binance", ws_bytes_in=GB, api_calls={"connect": 1}),),
        usage_span_ns=0,
    )
    report = cost_report(inputs)
    m = report.monthly
    assert m.storage_growth_bytes == 0 and m.storage_cost == Decimal("0.023000")  # flat
    assert m.ingress_cost == m.api_cost == 0
    assert any("span no time" in n for n in report.notes)
    assert any("usage spans no time" in n for n in report.notes)
    assert report.providers[0].calls_per_hour == 0


def test_bad_inputs_and_prices_are_refused_by_name():
    with pytest.raises(CostError):
        StorageRow("v", "trades", "s", "trade", "wal", -1)
    with pytest.raises(CostError):
        CostInputs(storage_span_ns=-1)
    for given, name in (
        ({"storage_gb_month": "abc"}, "storage_gb_month"),
        ({"egress_gb": "-0.01"}, "egress_gb"),
        ({"ingress_gb": "NaN"}, "ingress_gb"),
        ({"api_calls_1000": "1e999999"}, "api_calls_1000"),
        ({"api_calls_1000": "0.0000000000001"}, "api_calls_1000"),
        ({"storage": "1"}, "storage"),
    ):
        with pytest.raises(BadPrice) as caught:
            UnitPrices.parse(given)
        assert caught.value.field == name
    assert UnitPrices.parse({"egress_gb": " 0.05 "}).egress_gb == Decimal("0.05")
    assert [p["name"] for p in UnitPrices().as_list()] == list(PRICE_NAMES)


# -- recommendations --------------------------------------------------------------------------


def ranked_inputs() -> CostInputs:
    """Three binance symbols: HEAVY's book costs 10x CALM's bytes per trade, IDLE has a book and
    no trade; kraken calls the API 100 times an hour, binance 10."""
    mb = 10**6
    return CostInputs(
        storage=(
            row("binance/book/HEAVY", "book_delta", 1000 * mb, 10),
            row("binance/trades/HEAVY", "trade", 10 * mb, 100),
            row("binance/book/CALM", "book_delta", 100 * mb, 10),
            row("binance/trades/CALM", "trade", 10 * mb, 100),
            row("binance/book/IDLE", "book_delta", 50 * mb, 10),
            row("kraken/trades/ETH-USD", "trade", 30 * mb, 300),
        ),
        storage_span_ns=DAY_NS,
        usage=(
            ProviderUsage("binance", ws_bytes_in=12 * GB, api_calls={"connect": 10}),
            ProviderUsage("kraken", ws_bytes_in=GB, rest_bytes_in=GB, api_calls={"trades": 100}),
        ),
        usage_span_ns=3600 * 10**9,
    )


def test_recommendations_are_ranked_by_monthly_saving():
    recs = cost_report(ranked_inputs()).recommendations
    assert [(r.kind, r.target) for r in recs] == [
        ("book_depth", "binance/HEAVY"),
        ("api_calls", "kraken"),
        ("unused_symbol", "binance/IDLE"),
        ("dominant_type", "book/book_delta"),
    ]
    # binance gets 12 GB an hour (8640 GB a month at 0.01), shared out by WAL bytes (1170 MB)
    binance_in = Fraction(1, 100) * 12 * 720
    # HEAVY's book: half its growth (1 GB a day: +30 GB, 15 GB on average at 0.023) and half
    # its share of binance's ingress
    heavy = Fraction(23, 1000) * 15 + binance_in * Fraction(1000, 1170)
    assert recs[0].monthly_saving == money(heavy / 2)
    # kraken: 100 calls an hour against 60 expected: 40% of its API cost and its REST ingress
    kraken = Fraction(5, 100) * 100 * 720 / 1000 + Fraction(1, 100) * 720 * 2 / 2
    assert recs[1].monthly_saving == money(kraken * Fraction(40, 100))
    # IDLE: all its growth (50 MB a day: 0.75 GB on average) and its share of the ingress
    idle = Fraction(23, 1000) * Fraction(3, 4) + binance_in * Fraction(50, 1170)
    assert recs[2].monthly_saving == money(idle)
    # book deltas hold 1150 of 1200 MB: half their growth
    assert recs[3].monthly_saving == money(Fraction(23, 1000) * Fraction(1725, 100) / 2)


def test_reads_replace_trades_as_the_use_when_given():
    inputs = ranked_inputs()
    reads = {("binance", s): 5 for s in ("HEAVY", "CALM", "IDLE")} | {("kraken", "ETH-USD"): 5}
    report = cost_report(CostInputs(**{**vars_of(inputs), "use": reads}))
    assert report.use_measure == "reads"
    assert "unused_symbol" not in [r.kind for r in report.recommendations]
    assert report.totals["use"] == 20


def vars_of(inputs: CostInputs) -> dict:
    return {name: getattr(inputs, name) for name in inputs.__slots__}


def test_the_text_report_fits_80_columns_and_names_everything():
    text = render_text(cost_report(ranked_inputs()))
    assert max(map(len, text.splitlines())) <= 80
    for said in ("next 30 days", "binance", "HEAVY", "book_delta", "recommendations", "kraken"):
        assert said in text


# -- the store walker, on a real store ---------------------------------------------------------


def write_store(data_dir: Path, *, refresh: bool = True) -> list:
    rng = random.Random(7)
    events = (
        synth.trades(rng, 400, start_ns=T0)
        + synth.book_stream(rng, 300, start_ns=T0, gap_every=100)
        + synth.trades(rng, 200, venue="kraken", symbol="ETH/USD", start_ns=T0 + 5 * 10**9)
    )
    with Store.open(str(data_dir), book_sync=book_sync) as store:
        for i in range(0, len(events), 97):
            store.append(events[i : i + 97])
        if refresh:
            store.refresh()
    return events


def sizes_under(root: Path) -> dict[str, int]:
    return {str(p.relative_to(root)): p.stat().st_size for p in root.rglob("*") if p.is_file()}


def test_walked_bytes_per_stream_equal_the_files_sizes(tmp_path):
    events = write_store(tmp_path)
    found = walk_store(str(tmp_path))
    files = sizes_under(tmp_path)
    assert sum(r.bytes for r in found.rows) == sum(files.values())
    wal = Counter()
    for r in found.rows:
        if r.tier == "wal" and r.family:
            wal[(r.venue, r.family, r.symbol)] += r.bytes
    on_disk = Counter()
    for rel, size in files.items():
        parts = rel.split(os.sep)
        if parts[0] == "wal" and rel.endswith(".seg"):
            on_disk[tuple(Stream.from_dirname(parts[1]))] += size
    assert wal == on_disk and len(wal) == 3
    assert ("kraken", "trades", "ETH/USD") in wal  # quoted on disk, named plainly here
    events_by_type = Counter()
    for r in found.rows:
        events_by_type[r.type] += r.events
    assert events_by_type == Counter(type_name(e) for e in events)
    assert found.span_ns == max(e.ts_recv for e in events) - min(e.ts_recv for e in events)


def type_name(event) -> str:
    return type(event).__struct_config__.tag


def test_walk_splits_book_types_and_attributes_projections(tmp_path):
    write_store(tmp_path)
    rows = walk_store(str(tmp_path)).rows
    book = {r.type for r in rows if r.family == "book" and r.tier == "wal"}
    assert {"book_snapshot", "book_delta", "gap", "framing"} <= book
    tiers = {(r.tier, r.venue, r.symbol) for r in rows if r.tier in ("parquet", "jsonl")}
    assert ("parquet", "kraken", "ETH/USD") in tiers and ("jsonl", "binance", "BTC-USDT") in tiers
    assert all(r.venue == "" for r in rows if r.tier == "other")


def test_walk_reads_only_the_changed_segments_again(tmp_path, monkeypatch):
    write_store(tmp_path, refresh=False)
    cache = SegmentCache()
    first = walk_store(str(tmp_path), cache)
    read = []
    real = cost_api.tally_segment
    monkeypatch.setattr(cost_api, "tally_segment", lambda path: read.append(path) or real(path))
    again = walk_store(str(tmp_path), cache)
    assert again.rows == first.rows and read == []
    with Store.open(str(tmp_path), book_sync=book_sync) as store:
        store.append(synth.trades(random.Random(1), 5, start_ns=T0 + 10**12, first_id=10_000))
    walk_store(str(tmp_path), cache)
    assert [os.path.basename(os.path.dirname(p)) for p in read] == ["binance+trades+BTC-USDT"]


def test_parquet_days_older_than_the_wal_widen_the_span(tmp_path):
    write_store(tmp_path)
    wal_span = walk_store(str(tmp_path)).span_ns
    first = min(e.ts_recv for e in write_store(tmp_path / "again"))
    older = tmp_path / "parquet" / "trades" / "date=2023-11-12" / "venue=x" / "symbol=y"
    older.mkdir(parents=True)
    (older / "0.parquet").write_bytes(b"x" * 10)
    odd = tmp_path / "parquet" / "trades" / "date=someday" / "venue=x" / "symbol=y"
    odd.mkdir(parents=True)
    (odd / "0.parquet").write_bytes(b"x" * 5)
    found = walk_store(str(tmp_path))
    midnight = 1_699_747_200 * 10**9  # 2023-11-12T00:00:00Z
    assert found.span_ns == wal_span + (first - midnight)
    assert sum(r.bytes for r in found.rows if r.venue == "x") == 15


def test_an_empty_or_missing_store_walks_to_nothing(tmp_path):
    assert walk_store(str(tmp_path)).rows == []
    assert walk_store(str(tmp_path / "absent")).span_ns == 0


# -- usage totals in status.json -------------------------------------------------------------


def provider_row(pid: int, ws_in: int, snapshots: int) -> dict:
    return {
        "state": "running", "venue": "binance", "pid": pid, "node": "n1", "started_ns": pid,
        USAGE: {"messages": ws_in // 100, "ws_bytes_in": ws_in, "ws_bytes_out": 50,
                "rest_bytes_in": 7 * snapshots, "api_calls": {"connect": 1, "snapshot": snapshots}},
    }  # fmt: skip


def test_usage_totals_only_go_up_across_a_provider_restart():
    totals = UsageTotals(since_ns=5)
    totals.fold({"provider:binance": provider_row(11, 1000, 2), "writer": {"pid": 3}})
    totals.fold({"provider:binance": provider_row(11, 1500, 3)})
    totals.fold({"provider:binance": provider_row(12, 200, 1)})  # restarted: from zero again
    usage = totals.as_dict()
    assert usage["since_ns"] == 5
    assert usage["providers"] == {
        "binance": {
            "messages": 17,
            "ws_bytes_in": 1700,
            "ws_bytes_out": 100,
            "rest_bytes_in": 28,
            "api_calls": {"connect": 2, "snapshot": 4},
        }
    }


def test_status_json_carries_the_usage_for_the_cost_view(tmp_path):
    totals = UsageTotals(since_ns=T0)
    totals.fold({"provider:binance": provider_row(11, 1000, 2)})
    write_status(str(tmp_path), {"provider:binance": provider_row(11, 1000, 2)}, totals.as_dict())
    status = json.loads((tmp_path / STATUS_FILE).read_text())
    assert status[USAGE]["providers"]["binance"]["ws_bytes_in"] == 1000
    usage = read_usage(str(tmp_path))
    assert usage.span_ns == status["written_ns"] - T0
    assert usage.providers == (
        ProviderUsage("binance", 10, 1000, 50, 14, {"connect": 1, "snapshot": 2}),
    )


def test_reading_usage_without_a_status_says_why(tmp_path):
    assert read_usage(str(tmp_path)).notes == (NO_STATUS,)
    write_status(str(tmp_path), {"store": {"state": "ok"}})  # a --local run: rows, no usage
    assert "no provider usage" in read_usage(str(tmp_path)).notes[0]


# -- mdc cost ----------------------------------------------------------------------------------


def test_mdc_cost_json_on_a_real_store(tmp_path, capsys):
    write_store(tmp_path)
    assert main(["cost", "--data-dir", str(tmp_path), "--json", "--price-egress-gb", "0.1"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert set(report) == {
        "prices", "span", "totals", "storage", "providers", "monthly", "recommendations", "notes",
    }  # fmt: skip
    assert report["totals"]["storage_bytes"] == sum(sizes_under(tmp_path).values())
    assert {p["name"]: p["value"] for p in report["prices"]}["egress_gb"] == "0.1"
    assert NO_STATUS in report["notes"]


def test_mdc_cost_text_and_its_errors(tmp_path, capsys):
    write_store(tmp_path)
    assert main(["cost", "--data-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "next 30 days" in out and max(map(len, out.splitlines())) <= 80
    assert main(["cost", "--data-dir", str(tmp_path), "--price-ingress-gb", "x"]) == 2
    assert "--price-ingress-gb: 'x' is not a decimal number" in capsys.readouterr().err
    assert main(["cost", "--data-dir", str(tmp_path / "absent")]) == 2
    assert "no data dir" in capsys.readouterr().err
