"""limit_data: forwards exactly `bytes` over the link's life, cuts the crossing chunk, closes."""

from chaos.toxiproxy.memlink import MemoryLink, payload, spec
from chaos.toxiproxy.toxics.base import Chunk, Close
from chaos.toxiproxy.toxics.limit_data import LimitData, LimitDataAttrs


def test_the_chunk_crossing_the_limit_is_cut_and_the_connection_closes():
    link = MemoryLink([LimitData(LimitDataAttrs(bytes=10))])
    link.send(b"123456")
    link.send(b"789abc")
    assert link.run() == [Chunk(b"123456", 0), Chunk(b"789a", 0), Close(0)]
    assert payload(link.run()) == b""


def test_zero_bytes_closes_on_the_first_chunk_without_data():
    link = MemoryLink([LimitData(LimitDataAttrs(bytes=0))])
    link.send(b"abc")
    assert link.run() == [Close(0)]


def test_the_count_survives_an_update_of_the_toxic():
    toxic = spec(LimitData(LimitDataAttrs(bytes=5)))
    link = MemoryLink([toxic])
    link.send(b"abc")
    link.run()
    bigger = spec(LimitData(LimitDataAttrs(bytes=6)))
    link.pipeline.update(bigger, 0)
    link.send(b"defg")
    assert link.run() == [Chunk(b"def", 0), Close(0)]
