"""latency through an in-memory link: exact release times on a manual clock."""

from chaos.toxiproxy.memlink import MemoryLink, payload
from chaos.toxiproxy.toxics.base import MS, Chunk, Eof
from chaos.toxiproxy.toxics.latency import Latency, LatencyAttrs


def test_each_chunk_is_held_exactly_latency_after_it_was_read():
    link = MemoryLink([Latency(LatencyAttrs(latency=300))])
    link.send(b"a")
    link.advance(100 * MS)
    link.send(b"b")
    assert link.advance(299 * MS) == []
    assert link.run() == [Chunk(b"a", 300 * MS), Chunk(b"b", 400 * MS)]


def test_jitter_stays_within_bounds_and_is_seeded():
    def release_times(seed: int) -> list[int]:
        link = MemoryLink([Latency(LatencyAttrs(latency=100, jitter=50))], seed=seed)
        for _ in range(50):
            link.send(b"x")
        return [item.at_ns for item in link.run()]

    times = release_times(7)
    assert all(50 * MS <= t < 150 * MS for t in times)
    assert times == release_times(7)
    assert len(set(times)) > 1


def test_chunks_keep_their_order_even_when_jitter_would_swap_them():
    link = MemoryLink([Latency(LatencyAttrs(latency=100, jitter=90))], seed=3)
    for i in range(30):
        link.send(bytes([i]))
    out = link.run()
    assert payload(out) == bytes(range(30))
    assert [i.at_ns for i in out] == sorted(i.at_ns for i in out)


def test_negative_total_means_no_delay():
    link = MemoryLink([Latency(LatencyAttrs(latency=-5))])
    link.send(b"now")
    assert link.advance(0) == [Chunk(b"now", 0)]


def test_eof_follows_the_held_data():
    link = MemoryLink([Latency(LatencyAttrs(latency=10))])
    link.send(b"data")
    link.eof()
    assert link.run() == [Chunk(b"data", 10 * MS), Eof(10 * MS)]
