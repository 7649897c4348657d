"""The pipeline around the toxics: chaining, toxicity, and changes on a live link."""

import random

import pytest

from chaos.toxiproxy.memlink import MemoryLink, payload, spec
from chaos.toxiproxy.pipeline import MAX_PENDING_ITEMS, Pipeline
from chaos.toxiproxy.toxics.base import MS, Chunk, Close, Eof, Item, LinkCtx, Toxic
from chaos.toxiproxy.toxics.latency import Latency, LatencyAttrs
from chaos.toxiproxy.toxics.limit_data import LimitData, LimitDataAttrs
from chaos.toxiproxy.toxics.noop import Noop, NoopAttrs
from chaos.toxiproxy.toxics.slicer import Slicer, SlicerAttrs


def latency(ms: int) -> Latency:
    return Latency(LatencyAttrs(latency=ms))


def closes_at_once(toxicity: float, seed: int = 0) -> bool:
    link = MemoryLink([spec(LimitData(LimitDataAttrs(bytes=0)), toxicity=toxicity)], seed=seed)
    link.send(b"x")
    return link.run() == [Close(0)]


def test_no_toxics_passes_items_straight_through():
    link = MemoryLink([])
    link.send(b"a")
    link.eof()
    assert link.advance(0) == [Chunk(b"a", 0), Eof(0)]


def test_toxics_chain_in_insertion_order():
    link = MemoryLink(
        [
            spec(Slicer(SlicerAttrs(average_size=2, delay=10_000)), name="s"),
            spec(latency(100), name="l"),
        ]
    )
    link.send(b"abcd")
    assert link.run() == [Chunk(b"ab", 100 * MS), Chunk(b"cd", 110 * MS)]


def test_toxicity_zero_never_applies_and_one_always_does():
    assert not any(closes_at_once(0.0, seed) for seed in range(20))
    assert all(closes_at_once(1.0, seed) for seed in range(20))


def test_toxicity_half_applies_to_some_links_only_and_is_seeded():
    outcomes = [closes_at_once(0.5, seed) for seed in range(40)]
    assert 5 < sum(outcomes) < 35
    assert outcomes == [closes_at_once(0.5, seed) for seed in range(40)]


def test_toxicity_is_rolled_once_per_link_not_per_chunk():
    link = MemoryLink([spec(latency(100), toxicity=0.5)], seed=11)
    for _ in range(20):
        link.send(b"x")
    delays = {item.at_ns for item in link.run()}
    assert delays in ({0}, {100 * MS})


def test_removing_a_toxic_releases_what_it_held_now_without_loss():
    link = MemoryLink([spec(latency(1000), name="slow")])
    link.send(b"held")
    link.advance(10 * MS)
    link.send(b"waiting")
    link.pipeline.remove("slow", 10 * MS)
    assert link.advance(10 * MS) == [Chunk(b"held", 10 * MS), Chunk(b"waiting", 10 * MS)]


def test_removing_a_middle_toxic_keeps_order():
    link = MemoryLink([spec(latency(50), name="a"), spec(latency(1000), name="b")])
    link.send(b"1")
    link.advance(60 * MS)
    link.send(b"2")
    link.pipeline.remove("b", 60 * MS)
    out = link.run()
    assert payload(out) == b"12"
    assert [i.at_ns for i in out] == [60 * MS, 110 * MS]


def test_updating_a_toxic_flushes_its_held_data_and_applies_new_values():
    link = MemoryLink([spec(latency(1000), name="l")])
    link.send(b"old")
    link.advance(5 * MS)
    link.pipeline.update(spec(latency(20), name="l"), 5 * MS)
    link.send(b"new")
    assert link.run() == [Chunk(b"old", 5 * MS), Chunk(b"new", 25 * MS)]


def test_adding_a_toxic_applies_to_data_still_in_flight():
    link = MemoryLink([spec(latency(100), name="first")])
    link.send(b"x")
    link.pipeline.add(spec(latency(50), name="second"), 0)
    assert link.run() == [Chunk(b"x", 150 * MS)]


def test_unknown_toxic_name_is_a_key_error():
    with pytest.raises(KeyError):
        MemoryLink([]).pipeline.remove("nope", 0)


def test_pending_counts_queued_items_for_backpressure():
    pipeline = Pipeline([spec(latency(1000))], random.Random(0), 0)
    for _ in range(MAX_PENDING_ITEMS):
        pipeline.feed(Chunk(b"x", 0))
    assert pipeline.pending() == MAX_PENDING_ITEMS
    pipeline.poll(0)
    assert pipeline.pending() == MAX_PENDING_ITEMS
    pipeline.poll(1000 * MS)
    assert pipeline.pending() == 0


def test_outputs_never_leave_before_their_input_arrived():
    class Backwards(Toxic[NoopAttrs]):
        name = "backwards"
        attrs_type = NoopAttrs

        def apply(self, chunk: Chunk, ctx: LinkCtx) -> list[Item]:
            return [Chunk(chunk.data, chunk.at_ns - 5 * MS)]

    link = MemoryLink([Backwards(NoopAttrs())], now_ns=10 * MS)
    link.send(b"x")
    assert link.run() == [Chunk(b"x", 10 * MS)]


def test_noop_is_a_pass_through():
    link = MemoryLink([Noop(NoopAttrs())])
    link.send(b"same")
    assert link.advance(0) == [Chunk(b"same", 0)]
