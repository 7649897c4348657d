"""Damage in WAL segments: a torn tail is cut and reported; a damaged record with intact ones after
it, a damaged sealed segment and a missing segment lose exactly what they held, are reported
exactly, keep every intact record readable, and leave the projections agreeing with the log."""

from __future__ import annotations

import logging
import os
import random

import pytest

from mdc.events import identity
from mdc.store import Store
from mdc.store import records as rec
from mdc.store.projection import ProjectionState
from mdc.store.streams import Stream
from mdc.store.synth import trades

BTC = Stream("binance", "trades", "BTC-USDT")
ETH = Stream("binance", "trades", "ETH-USDT")
BATCH = 10


def _dir(data_dir: str, stream: Stream) -> str:
    return os.path.join(data_dir, "wal", stream.dirname)


def _store(data_dir: str, evs: list, segment_bytes: int = 64 * 1024 * 1024) -> list[int]:
    """Append `evs` in batches of BATCH (a frame each), 30 ETH trades, and project them all;
    returns where each frame starts in the BTC segment that was newest when it was written."""
    offsets = []
    with Store.open(data_dir, segment_bytes=segment_bytes) as store:
        for i in range(0, len(evs), BATCH):
            names = sorted(os.listdir(_dir(data_dir, BTC))) if i else []
            offsets.append(
                os.path.getsize(os.path.join(_dir(data_dir, BTC), names[-1])) if i else 0
            )
            store.append(evs[i : i + BATCH])
        store.append(trades(random.Random(99), 30, symbol="ETH-USDT"))
        store.refresh()
    return offsets


def _overwrite(path: str, offset: int, data: bytes) -> bytes:
    with open(path, "r+b") as f:
        f.seek(offset)
        f.write(data)
        f.seek(0)
        return f.read()


def _wal_events(store: Store, stream: Stream) -> list[tuple[int, object]]:
    return list(store.wal.read_events(stream))


def _projected(store: Store) -> tuple[list[int], int]:
    """The wal_seq of every projected BTC trade, and the JSONL lines of the BTC stream."""
    seqs = store.query("SELECT wal_seq FROM trades WHERE symbol = 'BTC-USDT' ORDER BY wal_seq").rows
    lines = 0
    for directory, _, files in os.walk(store.jsonl.root):
        if directory.endswith(os.path.join("binance", "BTC-USDT")):
            for name in files:
                with open(os.path.join(directory, name), "rb") as f:
                    lines += len(f.read().splitlines())
    return [s for (s,) in seqs], lines


def test_a_torn_tail_is_cut_reported_and_logged(tmp_path, caplog):
    evs = trades(random.Random(1), 40)
    data_dir = str(tmp_path)
    _store(data_dir, evs)
    (seg,) = os.listdir(_dir(data_dir, BTC))
    path = os.path.join(_dir(data_dir, BTC), seg)
    durable = os.path.getsize(path)
    torn = rec.encode(b"\x92partial")[:-3]
    with open(path, "ab") as f:
        f.write(torn)
    with caplog.at_level(logging.WARNING, "mdc.store"), Store.open(data_dir) as store:
        (cut,) = store.recovery.truncations
        assert (cut.segment, cut.offset, cut.dropped_bytes) == (path, durable, len(torn))
        assert store.recovery.damage == ()
        assert store.problems() == [str(cut)]
        assert [e for _, e in _wal_events(store, BTC)] == evs
    assert os.path.getsize(path) == durable
    assert [r.getMessage() for r in caplog.records] == [str(cut)]


def test_a_damaged_record_mid_segment_loses_only_itself_and_is_moved_aside(tmp_path, caplog):
    evs = trades(random.Random(2), 290)
    data_dir = str(tmp_path)
    offsets = _store(data_dir, evs)
    path = os.path.join(_dir(data_dir, BTC), os.listdir(_dir(data_dir, BTC))[0])
    size, k = os.path.getsize(path), 14  # frame 14 holds seqs 140..149
    damaged = _overwrite(path, (offsets[k] + offsets[k + 1]) // 2, b"\xde\xad\xbe\xef")
    intact = evs[: k * BATCH] + evs[(k + 1) * BATCH :]

    with Store.open(data_dir, readonly=True) as reader:  # reads around it before any repair
        before = _wal_events(reader, BTC)
        assert [e for _, e in before] == intact
    with caplog.at_level(logging.WARNING, "mdc.store"), Store.open(data_dir) as store:
        (damage,) = store.recovery.damage
        assert store.recovery.truncations == ()
        assert (damage.stream, damage.segment) == (BTC, path)
        assert (damage.start, damage.end) == (offsets[k], offsets[k + 1])
        assert (damage.seq, damage.events) == (k * BATCH, BATCH)
        with open(damage.quarantine, "rb") as f:
            assert f.read() == damaged[offsets[k] : offsets[k + 1]]
        assert damage.quarantine == os.path.join(
            data_dir, "quarantine", BTC.dirname, f"{0:020d}-{offsets[k]}.bad"
        )
        after = _wal_events(store, BTC)
        assert after == before and [s for s, _ in after] == list(range(280))
        assert os.path.getsize(path) == size - (offsets[k + 1] - offsets[k])
        assert len(_wal_events(store, ETH)) == 30

        assert store.rewound == [(BTC, k * BATCH)]
        assert store.projections_ahead() == []
        store.refresh()
        assert _projected(store) == (list(range(280)), 280)
        assert store.append(evs).stored == BATCH  # the lost records are not "duplicates"
        store.refresh()
        assert _projected(store) == (list(range(290)), 290)
    assert str(damage).split(";")[0] in caplog.text
    with Store.open(data_dir) as store:
        assert store.recovery.damage == () and store.problems() == []
        assert sorted(map(identity, (e for _, e in _wal_events(store, BTC)))) == sorted(
            map(identity, evs)
        )


def test_a_damaged_sealed_segment_is_read_around_then_repaired(tmp_path, caplog):
    evs = trades(random.Random(3), 200)
    data_dir = str(tmp_path)
    _store(data_dir, evs, segment_bytes=4000)  # a segment holds two frames: 20 records
    names = sorted(os.listdir(_dir(data_dir, BTC)))
    assert len(names) == 10
    path = os.path.join(_dir(data_dir, BTC), names[3])  # seqs 60..79
    _overwrite(path, 30, b"\xff\xff")  # inside its first frame: seqs 60..69
    intact = evs[:60] + evs[70:]

    with caplog.at_level(logging.WARNING, "mdc.store"), Store.open(data_dir, readonly=True) as r:
        assert [e for _, e in _wal_events(r, BTC)] == intact
        assert len(_wal_events(r, ETH)) == 30  # other streams: untouched
        (line,) = r.problems()
        assert f"{path} bytes 0-" in line and "10 record(s) lost at seq 60" in line
    assert line in caplog.text

    with Store.open(data_dir, segment_bytes=4000) as store:
        assert store.recovery.damage == ()  # only the newest segment is checked on open
        (repaired,) = store.repair()
        (damage,) = repaired.damage
        assert (damage.segment, damage.start, damage.seq, damage.events) == (path, 0, 60, 10)
        assert os.path.exists(damage.quarantine)
        assert store.rewound == [(BTC, 60)]
        assert [e for _, e in _wal_events(store, BTC)] == intact
        assert [s for s, _ in _wal_events(store, BTC)] == [*range(70), *range(80, 200)]
        assert f"{70:020d}.seg" in os.listdir(_dir(data_dir, BTC))  # the known hole
        assert _projected(store) == ([*range(70), *range(80, 200)], 190)
        assert all(not r.damaged for r in store.inspect())
        assert store.append(evs).stored == 10


def test_a_missing_segment_is_named_exactly_and_the_rest_stays_readable(tmp_path):
    evs = trades(random.Random(4), 200)
    data_dir = str(tmp_path)
    _store(data_dir, evs, segment_bytes=4000)
    gone = os.path.join(_dir(data_dir, BTC), f"{100:020d}.seg")
    os.remove(gone)
    intact = evs[:100] + evs[120:]

    with Store.open(data_dir, readonly=True) as reader:
        assert [e for _, e in _wal_events(reader, BTC)] == intact
        (missing,) = [r.missing for r in reader.inspect() if r.missing]
        assert (missing.segment, missing.start, missing.stop) == (gone, 100, 120)
        assert reader.problems() == [str(missing)]
        assert "20 record(s) lost (seqs 100-119)" in str(missing)

    with Store.open(data_dir, segment_bytes=4000) as store:
        (repaired,) = store.repair()
        assert repaired.missing == missing
        assert os.path.getsize(gone) == 0  # a known hole now, not a missing segment
        assert store.rewound == [(BTC, 100)]
        assert _projected(store) == ([*range(100), *range(120, 200)], 180)
        assert all(not r.damaged for r in store.inspect())
        assert store.append(evs).stored == 20


def test_a_projection_ahead_of_its_log_forgets_the_excess_on_open(tmp_path):
    evs = trades(random.Random(5), 100)
    data_dir = str(tmp_path)
    _store(data_dir, evs, segment_bytes=4000)
    newest = sorted(os.listdir(_dir(data_dir, BTC)))[-1]
    os.remove(os.path.join(_dir(data_dir, BTC), newest))  # seqs 80..99, past every segment
    with Store.open(data_dir, readonly=True) as reader:
        assert ("parquet", BTC, 100, 80) in reader.projections_ahead()
    with Store.open(data_dir, segment_bytes=4000) as store:
        assert store.rewound == [(BTC, 80)]
        assert ProjectionState.load(store.parquet.root).positions[BTC] == 80
        assert store.append(evs).stored == 20
        store.refresh()
        assert _projected(store) == (list(range(100)), 100)


@pytest.mark.parametrize("seed", range(6))
def test_damage_anywhere_in_the_newest_segment_keeps_every_intact_frame(tmp_path, seed):
    rng = random.Random(seed)
    evs = trades(rng, 120)
    data_dir = str(tmp_path)
    offsets = _store(data_dir, evs)
    path = os.path.join(_dir(data_dir, BTC), os.listdir(_dir(data_dir, BTC))[0])
    k = rng.randrange(len(offsets) - 1)
    at = rng.randrange(offsets[k], offsets[k + 1] - 2)
    _overwrite(path, at, bytes([rng.randrange(256) for _ in range(2)]))
    with Store.open(data_dir) as store:
        (damage,) = store.recovery.damage
        assert (damage.start, damage.end, damage.seq) == (offsets[k], offsets[k + 1], k * BATCH)
        assert [e for _, e in _wal_events(store, BTC)] == evs[: k * BATCH] + evs[(k + 1) * BATCH :]
