"""timeout: drops data, closes `timeout` ms after start (0 never), closes when removed."""

from chaos.toxiproxy.memlink import MemoryLink, spec
from chaos.toxiproxy.toxics.base import MS, Close, Eof
from chaos.toxiproxy.toxics.timeout import Timeout, TimeoutAttrs


def test_data_is_dropped_and_the_connection_closes_after_the_timeout():
    link = MemoryLink([Timeout(TimeoutAttrs(timeout=300))])
    link.send(b"lost")
    assert link.advance(299 * MS) == []
    assert link.run() == [Close(300 * MS)]


def test_zero_holds_the_connection_open_forever():
    link = MemoryLink([Timeout(TimeoutAttrs(timeout=0))])
    link.send(b"lost")
    assert link.run() == []
    assert link.pipeline.next_wake_ns() is None


def test_eof_of_the_source_closes_at_once():
    link = MemoryLink([Timeout(TimeoutAttrs(timeout=0))])
    link.advance(5 * MS)
    link.eof()
    assert link.run() == [Eof(5 * MS)]


def test_removing_the_toxic_closes_without_releasing_held_data():
    link = MemoryLink([spec(Timeout(TimeoutAttrs(timeout=0)), name="t")])
    link.send(b"held")
    link.advance(7 * MS)
    link.pipeline.remove("t", 7 * MS)
    assert link.run() == [Close(7 * MS)]


def test_timer_starts_when_the_toxic_is_added_to_a_live_link():
    link = MemoryLink([], now_ns=1000 * MS)
    link.pipeline.add(spec(Timeout(TimeoutAttrs(timeout=50))), 1000 * MS)
    assert link.run() == [Close(1050 * MS)]
