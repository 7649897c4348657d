"""The book against a naive dict model under random deltas."""

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from mdc.book import Book

prices = st.integers(1, 60).map(lambda i: Decimal(i) / 4)
sizes = st.sampled_from([Decimal(0), Decimal("0.5"), Decimal("1.00"), Decimal("7")])
changes = st.lists(st.tuples(prices, sizes), max_size=8)
snapshot_side = st.lists(st.tuples(prices, sizes), max_size=8, unique_by=lambda level: level[0])


def naive_apply(side: dict, levels) -> None:
    for price, size in levels:
        if size:
            side[price] = size
        else:
            side.pop(price, None)


@settings(max_examples=200, deadline=None)
@given(
    snapshot_side,
    snapshot_side,
    st.lists(st.tuples(changes, changes), max_size=30),
    st.integers(1, 12),
)
def test_book_matches_naive_model(snap_bids, snap_asks, deltas, n):
    book, bids, asks = Book(), {}, {}
    book.load(snap_bids, snap_asks)
    naive_apply(bids, snap_bids)
    naive_apply(asks, snap_asks)
    for delta_bids, delta_asks in deltas:
        reported = book.apply(delta_bids, delta_asks)
        naive_apply(bids, delta_bids)
        naive_apply(asks, delta_asks)
        assert book.top_bids(n) == sorted(bids.items(), reverse=True)[:n]
        assert book.top_asks(n) == sorted(asks.items())[:n]
        assert book.best_bid() == (max(bids.items()) if bids else None)
        assert book.best_ask() == (min(asks.items()) if asks else None)
        crossed = bool(bids and asks and max(bids) >= min(asks))
        assert book.is_crossed() is crossed
        assert reported is crossed


def test_removing_an_unknown_level_is_harmless_and_zero_levels_are_not_loaded():
    book = Book()
    book.load([(Decimal("1"), Decimal("0")), (Decimal("2"), Decimal("1"))], [])
    assert book.top_bids() == [(Decimal("2"), Decimal("1"))]
    book.apply([(Decimal("5"), Decimal("0"))], [(Decimal("9"), Decimal("0"))])
    assert book.top() == ([(Decimal("2"), Decimal("1"))], [])


def test_truncate_keeps_the_best_levels():
    book = Book()
    book.load(
        [(Decimal(p), Decimal(1)) for p in range(1, 6)],
        [(Decimal(p), Decimal(1)) for p in range(6, 11)],
    )
    book.truncate(2)
    assert [p for p, _ in book.top_bids()] == [Decimal(5), Decimal(4)]
    assert [p for p, _ in book.top_asks()] == [Decimal(6), Decimal(7)]


def test_equal_books_compare_equal_whatever_the_decimal_spelling():
    a, b = Book(), Book()
    a.load([(Decimal("1.0"), Decimal("2"))], [])
    b.load([(Decimal("1.00"), Decimal("2.0"))], [])
    assert a == b
    b.apply([(Decimal("1"), Decimal("3"))], [])
    assert a != b


def test_best_prices_best_first() -> None:
    book = Book()
    book.load(
        [(Decimal(p), Decimal(1)) for p in (3, 1, 2)], [(Decimal(p), Decimal(1)) for p in (5, 4)]
    )
    assert book.bid_prices(2) == [Decimal(3), Decimal(2)]
    assert book.bid_prices(10) == [Decimal(3), Decimal(2), Decimal(1)]
    assert book.ask_prices(1) == [Decimal(4)] and book.ask_prices(10) == [Decimal(4), Decimal(5)]
    assert book.bid_prices(0) == [] and book.ask_prices(0) == []
