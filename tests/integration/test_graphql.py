"""`/graphql` over the store (real uvicorn, real store; the same queries on a real `mdc run`'s
data: test_run_grpc.py): the seed's query, exact decimals, bars and the book as the other
readers give them, the guards, and errors in GraphQL's own format."""

from __future__ import annotations

import random
from collections.abc import Iterator
from decimal import Decimal

import httpx
import pytest

from mdc.events import Quote
from mdc.store import Store
from mdc.store.synth import book_stream, trades
from serve.http_limits import serving, uvicorn_config
from serve.store_graphql import MAX_ROWS
from tests.unit.test_serve_doubles import store_app

KEY = "graphql-key"
T0 = 1_700_000_000_000_000_000


def _quotes(n: int) -> list[Quote]:
    rng = random.Random(4)
    out = []
    for i in range(n):
        bid = Decimal(4_200_000 + rng.randint(-99, 99)).scaleb(-2)
        ask = bid + Decimal(rng.randint(1, 9)).scaleb(-2)
        ts = T0 + i * 1_000_000
        out.append(Quote("alpaca", "AAPL", ts, ts, bid, Decimal("100"), ask, Decimal("0.5")))
    return out


@pytest.fixture(scope="module")
def graphql(tmp_path_factory) -> Iterator[tuple[callable, str]]:
    data = str(tmp_path_factory.mktemp("store"))
    with Store.open(data) as store:
        store.append(trades(random.Random(1), 3000, symbol="AAPL", venue="alpaca"))
        store.append(_quotes(200) + book_stream(random.Random(2), 300))
    app = store_app(data, KEY)
    with serving(uvicorn_config(app, log_level="warning", lifespan="off")) as url:

        def ask(query: str, key: str | None = KEY) -> httpx.Response:
            headers = {"X-API-Key": key} if key else {}
            return httpx.post(f"{url}/graphql", json={"query": query}, headers=headers, timeout=30)

        yield ask, data


def test_the_seed_query_answers_from_the_store_exactly(graphql):
    ask, data = graphql
    answer = ask(
        '{ trades(symbol: "AAPL", from: "2023-11-14", to: "2023-11-15") '
        "{ timestamp price size side tsEvent } "
        '  quotes(symbol: "AAPL", last: 100) { bidPrice askPrice spread tsRecv } }'
    )
    assert answer.status_code == 200 and "errors" not in answer.json(), answer.text
    got = answer.json()["data"]
    with Store.open(data, readonly=True) as store:
        expected = [
            e
            for e in store.iter_events(0, 2**62, "alpaca", "AAPL", ["trade"])
            if e.ts_event < T0 + 86400 * 10**9
        ]
        quotes = list(store.iter_events(0, 2**62, "alpaca", "AAPL", ["quote"]))[-100:]
    assert [(t["price"], t["size"], t["side"], int(t["tsEvent"])) for t in got["trades"]] == [
        (format(e.price.normalize(), "f"), format(e.size.normalize(), "f"), e.side, e.ts_event)
        for e in sorted(expected, key=lambda e: e.ts_event)
    ][: len(got["trades"])]
    assert len(got["trades"]) == min(1000, len(expected))  # the default limit
    assert [q["spread"] for q in got["quotes"]] == [
        format(q.ask_price - q.bid_price, "f") for q in quotes
    ]
    assert [int(q["tsRecv"]) for q in got["quotes"]] == [q.ts_recv for q in quotes]


def test_the_book_is_the_one_mdc_book_shows(graphql):
    ask, data = graphql
    at = T0 + 2 * 10**9
    answer = ask(
        f'{{ book(venue: "binance", symbol: "BTC-USDT", at: "{at}", depth: 3) '
        "{ inSync bids { price size } asks { price size } } }"
    ).json()
    with Store.open(data, readonly=True) as store:
        book = store.book_at("binance", "BTC-USDT", at, depth=3)
    assert answer["data"]["book"]["inSync"] == book.in_sync is True
    assert [(lv["price"], lv["size"]) for lv in answer["data"]["book"]["bids"]] == [
        (format(p.normalize(), "f"), format(s.normalize(), "f")) for p, s in book.bids
    ]


@pytest.mark.parametrize(
    ("query", "says"),
    [
        ('{ trades(symbol: "AAPL", from: "yesterday") { price } }', "from: bad time"),
        ('{ trades(symbol: "AAPL", from: "0", limit: 0) { price } }', "limit: from 1"),
        (f'{{ quotes(symbol: "AAPL", last: {MAX_ROWS + 1}) {{ bidPrice }} }}', "last: from 1"),
        ('{ bars(symbol: "AAPL", from: "0", interval: 5) { open } }', "interval:"),
        ('{ book(venue: "nope", symbol: "X") { inSync } }', "no book stored"),
        ("{ nope }", "Cannot query field 'nope'"),
        (
            "{ "
            + " ".join(f'a{i}: quotes(symbol: "A", last: 1) {{ spread }}' for i in range(20))
            + " }",
            "aliases",
        ),
        ("{ " + "__typename " * 3000 + "}", "token"),
    ],
)
def test_bad_queries_get_errors_in_graphql_format(graphql, query, says):
    ask, _ = graphql
    answer = ask(query)
    body = answer.json()
    assert body.get("data") is None or "errors" in body
    assert any(says in error["message"] for error in body["errors"]), body


def test_no_key_no_answer_and_no_ide_page(graphql):
    ask, _ = graphql
    refused = ask("{ __typename }", key=None)
    assert refused.status_code == 401 and "API key" in refused.json()["error"]
    assert ask("{ __typename }").json() == {"data": {"__typename": "Query"}}
