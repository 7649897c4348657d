"""reset_peer: drops the first chunk, resets `timeout` ms later; RST only if present at accept."""

from chaos.toxiproxy.memlink import MemoryLink, spec
from chaos.toxiproxy.toxics.base import MS, Close
from chaos.toxiproxy.toxics.reset_peer import ResetPeer, ResetPeerAttrs


def test_first_chunk_is_dropped_then_the_connection_is_reset():
    link = MemoryLink([ResetPeer(ResetPeerAttrs(timeout=200))])
    link.advance(10 * MS)
    link.send(b"first")
    link.send(b"second")
    assert link.advance(209 * MS) == []
    assert link.run() == [Close(210 * MS, reset=True)]


def test_eof_before_any_data_also_triggers_the_reset():
    link = MemoryLink([ResetPeer(ResetPeerAttrs(timeout=0))])
    link.eof()
    assert link.run() == [Close(0, reset=True)]


def test_added_to_a_live_link_it_closes_with_a_fin():
    link = MemoryLink([])
    link.pipeline.add(spec(ResetPeer(ResetPeerAttrs(timeout=0))), 0)
    link.send(b"x")
    assert link.run() == [Close(0, reset=False)]
