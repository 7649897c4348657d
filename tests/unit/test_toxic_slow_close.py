"""slow_close: data unchanged, the source's EOF is delayed by `delay` ms."""

from chaos.toxiproxy.memlink import MemoryLink
from chaos.toxiproxy.toxics.base import MS, Chunk, Eof
from chaos.toxiproxy.toxics.slow_close import SlowClose, SlowCloseAttrs


def test_data_passes_and_eof_waits_for_the_delay():
    link = MemoryLink([SlowClose(SlowCloseAttrs(delay=500))])
    link.send(b"reply")
    assert link.advance(0) == [Chunk(b"reply", 0)]
    link.advance(20 * MS)
    link.eof()
    assert link.advance(519 * MS) == []
    assert link.run() == [Eof(520 * MS)]
