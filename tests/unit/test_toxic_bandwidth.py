"""bandwidth: rate is bytes per millisecond; large chunks leave as 100 ms pieces."""

from chaos.toxiproxy.memlink import MemoryLink, payload
from chaos.toxiproxy.toxics.bandwidth import Bandwidth, BandwidthAttrs
from chaos.toxiproxy.toxics.base import MS, Chunk


def test_a_small_chunk_leaves_after_its_transfer_time():
    link = MemoryLink([Bandwidth(BandwidthAttrs(rate=10))])
    link.send(b"x" * 500)
    assert link.run() == [Chunk(b"x" * 500, 50 * MS)]


def test_a_large_chunk_is_cut_into_100ms_pieces():
    link = MemoryLink([Bandwidth(BandwidthAttrs(rate=10))])
    link.send(b"y" * 2500)
    out = link.run()
    assert [len(c.data) for c in out] == [1000, 1000, 500]
    assert [c.at_ns for c in out] == [100 * MS, 200 * MS, 250 * MS]


def test_debt_accumulates_across_chunks():
    link = MemoryLink([Bandwidth(BandwidthAttrs(rate=1))])
    link.send(b"a" * 20)
    link.send(b"b" * 20)
    out = link.run()
    assert [c.at_ns for c in out] == [20 * MS, 40 * MS]
    assert payload(out) == b"a" * 20 + b"b" * 20


def test_an_idle_wire_does_not_bank_credit():
    link = MemoryLink([Bandwidth(BandwidthAttrs(rate=1))])
    link.send(b"a")
    link.run()
    link.advance(1000 * MS)
    link.send(b"b" * 10)
    assert link.run() == [Chunk(b"b" * 10, 1010 * MS)]


def test_rate_zero_is_unlimited():
    link = MemoryLink([Bandwidth(BandwidthAttrs(rate=0))])
    link.send(b"z" * 100_000)
    assert link.advance(0) == [Chunk(b"z" * 100_000, 0)]
