"""The alert evaluator: each of the seed's rules fires and resolves at the right instants with
its value; a pending alert that stops holding is never sent; and the transitions do not depend
on how streams interleave (the live log and a replay interleave them differently)."""

import random
from decimal import Decimal

from mdc.alerts.evaluator import AlertEvaluator, Transition, evaluate_stored
from mdc.alerts.rules import parse_rules
from mdc.events import Event, Quote, Status, Trade
from tests.unit.test_alert_rules import SEED_RULES

S = 10**9
RULES = parse_rules(SEED_RULES)
BY_NAME = {rule.name: rule for rule in RULES}


def trade(t: float, price: str, symbol: str = "BTC-USD", venue: str = "kraken") -> Trade:
    ns = int(t * S)
    return Trade(venue, symbol, ns, ns, Decimal(price), Decimal(1), "buy", int(ns))


def quote(t: float, bid: str | None, ask: str | None, symbol: str = "BTC-USD") -> Quote:
    ns = int(t * S)
    size = Decimal(1)
    return Quote("kraken", symbol, ns, ns, bid and Decimal(bid), size, ask and Decimal(ask), size)


def status(t: float, state: str, venue: str = "kraken") -> Status:
    return Status(venue, "", int(t * S), int(t * S), state)


def run(rule_names: list[str], events: list[Event], until: float | None = None) -> list[tuple]:
    rules = [BY_NAME[name] for name in rule_names]
    end = None if until is None else int(until * S)
    return [_brief(t) for t in evaluate_stored(rules, events, end)]


def _brief(t: Transition) -> tuple:
    ends = None if t.ends_at_ns is None else t.ends_at_ns / S
    return (
        t.alertname,
        dict(t.labels).get("symbol", ""),
        t.status,
        t.starts_at_ns / S,
        ends,
        t.value,
    )


def test_price_spike_compares_with_the_price_one_window_ago():
    events = [trade(0, "100"), trade(30, "103"), trade(50, "106"), trade(70, "106.5")]
    events += [trade(115, "107")]  # one window after the spike: against 106, no spike
    assert run(["price_spike"], events) == [
        ("price_spike", "BTC-USD", "firing", 50, None, "0.06"),
        ("price_spike", "BTC-USD", "resolved", 50, 115, "0.009433962264150943396226415094"),
    ]


def test_data_gap_fires_on_the_first_tick_past_five_minutes_and_resolves_on_a_trade():
    events = [trade(10.5, "1", "SPY", "alpaca"), trade(20, "1", "BTC-USD")]  # not a listed symbol
    events += [trade(400, "1", "SPY", "alpaca")]
    assert run(["data_gap"], events) == [
        ("data_gap", "SPY", "firing", 311, None, "300.5"),
        ("data_gap", "SPY", "resolved", 311, 400, "0"),
    ]


def test_a_silent_feed_fires_data_gap_only_when_time_is_advanced_past_it():
    events = [trade(0, "1", "SPY", "alpaca")]
    assert run(["data_gap"], events) == []
    assert run(["data_gap"], events, until=300) == []
    assert run(["data_gap"], events, until=301) == [("data_gap", "SPY", "firing", 301, None, "301")]


def test_crossed_market_fires_while_crossed_and_an_empty_side_is_unknown():
    events = [
        quote(1, "10", "11"),
        quote(2, "11.5", "11"),
        quote(3, "12", "11"),
        quote(4, None, "9"),
    ]
    assert run(["crossed_market"], events) == [
        ("crossed_market", "BTC-USD", "firing", 2, None, "11.5"),
        ("crossed_market", "BTC-USD", "resolved", 2, 4, ""),
    ]


def test_provider_disconnect_waits_its_for_and_a_flap_inside_it_is_never_sent():
    events = [status(0, "connecting"), status(1, "connected"), status(2, "subscribed")]
    events += [status(10, "disconnected"), status(10.5, "connecting"), status(50, "connected")]
    events += [status(100, "disconnected"), status(129, "connected")]  # 29 s: never sent
    assert run(["provider_disconnect"], events, until=200) == [
        ("provider_disconnect", "", "firing", 40, None, "connecting"),
        ("provider_disconnect", "", "resolved", 40, 50, "connected"),
    ]


def test_an_alert_carries_its_labels():
    (firing,) = AlertEvaluator([BY_NAME["crossed_market"]]).feed(quote(1, "2", "1"))
    assert firing.to_dict() == {
        "alertname": "crossed_market",
        "labels": {
            "alertname": "crossed_market",
            "severity": "error",
            "symbol": "BTC-USD",
            "venue": "kraken",
        },
        "status": "firing",
        "startsAt": "1970-01-01T00:00:01.000000000Z",
        "endsAt": "0001-01-01T00:00:00Z",
        "value": "2",
    }


def _random_streams(seed: int) -> dict[tuple[str, str], list[Event]]:
    """Per-stream ordered events of two symbols, with quiet spells, crosses and disconnects."""
    rng = random.Random(seed)
    streams: dict[tuple[str, str], list[Event]] = {}
    for symbol in ("SPY", "QQQ"):
        t, price, trades, quotes = 0.0, 100.0, [], []
        while t < 3000:
            t += rng.choice([0.5, 3, 40, 200, 400])
            price *= rng.choice([1, 1.01, 0.99, 1.08])
            trades.append(trade(t, f"{price:.2f}", symbol, "alpaca"))
            crossed = rng.random() < 0.1
            bid, ask = (price + 1, price) if crossed else (price - 1, price + 1)
            quotes.append(
                Quote(
                    "alpaca",
                    symbol,
                    int(t * S),
                    int(t * S) + 1,
                    Decimal(f"{bid:.2f}"),
                    Decimal(1),
                    Decimal(f"{ask:.2f}"),
                    Decimal(1),
                )
            )
        streams[(symbol, "trades")], streams[(symbol, "quotes")] = trades, quotes
    t, statuses = 0.0, []
    while t < 3000:
        t += rng.choice([5, 20, 60])
        statuses.append(status(t, rng.choice(["connected", "disconnected"]), "alpaca"))
    streams[("", "status")] = statuses
    return streams


def test_transitions_do_not_depend_on_how_streams_interleave():
    """Replay merges streams by receive time; a live follower reads them in any interleaving
    (per-stream order kept) and advances the clock only past what it has read."""
    for seed in range(5):
        streams = _random_streams(seed)
        merged = sorted((e for s in streams.values() for e in s), key=lambda e: e.ts_recv)
        end = 3500 * S
        replayed = sorted(evaluate_stored(RULES, merged, end), key=repr)
        rng = random.Random(seed)
        live, cursors = AlertEvaluator(RULES), dict.fromkeys(streams, 0)
        transitions: list[Transition] = []
        while cursors:
            key = rng.choice(sorted(cursors))
            chunk = streams[key][cursors[key] : cursors[key] + rng.randint(1, 30)]
            cursors[key] += len(chunk)
            if cursors[key] == len(streams[key]):
                del cursors[key]
            for event in chunk:
                transitions += live.feed(event)
        transitions += live.advance(end)
        assert len(replayed) > 10
        assert sorted(transitions, key=repr) == replayed, f"seed {seed}"


def test_a_restored_evaluator_goes_on_exactly_where_the_saved_one_was():
    """Saved at any point (as msgpack, as the alert actor does) and restored, the evaluator
    gives the transitions an uninterrupted one gives: none missed, none repeated."""
    import msgspec

    streams = _random_streams(11)
    merged = sorted((e for s in streams.values() for e in s), key=lambda e: e.ts_recv)
    whole = list(evaluate_stored(RULES, merged, 3500 * S))
    for cut in (1, len(merged) // 3, len(merged) - 2):
        first = AlertEvaluator(RULES)
        got = []
        for event in merged[:cut]:
            got += first.advance(event.ts_recv - 1) + first.feed(event)
        saved = msgspec.msgpack.encode(first.snapshot())
        second = AlertEvaluator.restore(RULES, msgspec.msgpack.decode(saved))
        for event in merged[cut:]:
            got += second.advance(event.ts_recv - 1) + second.feed(event)
        got += second.advance(3500 * S)
        assert got == whole, cut
