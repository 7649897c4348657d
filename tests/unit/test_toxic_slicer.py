"""slicer: pieces are small, in order, spaced `delay` µs apart, and lose nothing."""

from hypothesis import given, settings
from hypothesis import strategies as st

from chaos.toxiproxy.memlink import MemoryLink, payload
from chaos.toxiproxy.toxics.base import US, Chunk
from chaos.toxiproxy.toxics.slicer import Slicer, SlicerAttrs


def test_fixed_size_pieces_are_spaced_by_the_delay():
    link = MemoryLink([Slicer(SlicerAttrs(average_size=4, delay=1000))])
    link.send(b"0123456789abcdef")
    assert link.run() == [
        Chunk(b"0123", 0),
        Chunk(b"4567", 1000 * US),
        Chunk(b"89ab", 2000 * US),
        Chunk(b"cdef", 3000 * US),
    ]


def test_average_size_zero_is_clamped_instead_of_recursing_forever():
    link = MemoryLink([Slicer(SlicerAttrs(average_size=0))])
    link.send(b"abc")
    assert [c.data for c in link.run()] == [b"a", b"b", b"c"]


@settings(max_examples=60, deadline=None)
@given(
    data=st.binary(min_size=1, max_size=3000),
    average=st.integers(0, 64),
    variation=st.integers(0, 64),
    seed=st.integers(0, 2**32),
)
def test_pieces_rebuild_the_chunk_and_respect_the_size_bound(data, average, variation, seed):
    link = MemoryLink(
        [Slicer(SlicerAttrs(average_size=average, size_variation=variation))], seed=seed
    )
    link.send(data)
    out = link.run()
    assert payload(out) == data
    assert all(0 < len(c.data) <= max(1, average) + variation for c in out)
