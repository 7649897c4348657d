"""models.synthetic: a deterministic, well-formed event stream from the simulator's market model."""

from __future__ import annotations

import itertools
import random

import pytest

from mdc.book import Book
from mdc.events import BookDelta, BookSnapshot, Trade, to_msgpack
from mdc.simulator.config import SimulatorConfig
from mdc.simulator.model import MarketModel
from models.errors import TrainingError
from models.synthetic import DEFAULT_SYMBOLS, START_NS, synthetic_events


def _encoded(seed: int, seconds: int) -> list[bytes]:
    return [to_msgpack(e) for e in synthetic_events(seed, seconds)]


def test_same_seed_same_bytes_other_seed_other_bytes():
    first = _encoded(3, 20)
    assert first == _encoded(3, 20)
    assert first != _encoded(4, 20)
    longer = _encoded(3, 21)
    assert longer[: len(first)] == first and len(longer) > len(first)


def test_stream_shape():
    events = list(synthetic_events(5, 30))
    assert [type(e) for e in events[:2]] == [BookSnapshot, BookSnapshot]
    assert {e.symbol for e in events[:2]} == set(DEFAULT_SYMBOLS)
    assert {type(e) for e in events[2:]} == {Trade, BookDelta}
    times = [e.ts_event for e in events]
    assert times == sorted(times) and times[0] == START_NS
    assert times[-1] <= START_NS + 30 * 10**9
    assert all(e.ts_recv == e.ts_event and e.venue == "binance" for e in events)
    trades = [e for e in events if isinstance(e, Trade)]
    assert {t.side for t in trades} == {"buy", "sell"}
    for symbol in DEFAULT_SYMBOLS:
        ids = [e.first_update_id for e in events if isinstance(e, BookDelta) and e.symbol == symbol]
        snapshot = next(e for e in events if isinstance(e, BookSnapshot) and e.symbol == symbol)
        assert ids == list(range(snapshot.update_id + 1, snapshot.update_id + 1 + len(ids)))


def test_books_rebuilt_from_the_stream_equal_the_model():
    """Snapshot + deltas reproduce the model's own book, level for level."""
    seconds, seed = 15, 9
    books: dict[str, Book] = {}
    for event in synthetic_events(seed, seconds):
        if isinstance(event, BookSnapshot):
            books[event.symbol] = Book()
            books[event.symbol].load(event.bids, event.asks)
        elif isinstance(event, BookDelta):
            books[event.symbol].apply(event.bids, event.asks)
    config = SimulatorConfig(venues=("binance",), seed=seed)
    model = MarketModel(config.specs("binance"), random.Random(f"{seed}:binance"), config.rate)
    for now in itertools.count(START_NS, 10**9):
        if now > START_NS + seconds * 10**9:
            break
        model.step(now)
    for symbol, book in books.items():
        truth = model.symbols[symbol].book
        assert (book.bids, book.asks) == (truth.bids, truth.asks)


def test_rejects_non_positive_duration():
    with pytest.raises(TrainingError, match="must be positive"):
        list(synthetic_events(1, 0))
