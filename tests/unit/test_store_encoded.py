"""Batches encoded by their producer: the store writes exactly what it would have encoded itself,
only the encoding crosses the process boundary, and dedup keys agree across processes."""

from __future__ import annotations

import os
import pickle
import random
import subprocess
import sys

import msgspec
import pytest

from mdc.batching import Batcher, BatchPolicy
from mdc.events import Gap, Status, identity
from mdc.store import Store, UnstorableEvent, encode_batch
from mdc.store import records as rec
from mdc.store.dedup import identity_keys
from mdc.store.synth import book_stream, trades


def _segments(data_dir: str) -> dict[str, bytes]:
    root = os.path.join(data_dir, "wal")
    out = {}
    for d, _, files in os.walk(root):
        for name in files:
            if name.endswith(".seg"):
                with open(os.path.join(d, name), "rb") as f:
                    out[os.path.relpath(os.path.join(d, name), root)] = f.read()
    return out


def _mixed(rng: random.Random) -> list:
    gap = Gap("binance", "BTC-USDT", 5, 6, stream="trades", reason="lost", from_id=1, to_id=2)
    status = Status("binance", "", 7, 8, state="connected")
    return [*trades(rng, 30), *book_stream(rng, 12), gap, status, *trades(rng, 5, first_id=900)]


def _store_both(tmp_path, batches: list[list]) -> tuple[list, list]:
    with Store.open(str(tmp_path / "events")) as store:
        plain = [store.append(batch) for batch in batches]
    with Store.open(str(tmp_path / "encoded")) as store:
        encoded = [store.append(encode_batch(batch)) for batch in batches]
    assert _segments(str(tmp_path / "events")) == _segments(str(tmp_path / "encoded"))
    return plain, encoded


def test_an_encoded_batch_stores_the_same_bytes_as_its_events(tmp_path):
    batches = [_mixed(random.Random(seed)) for seed in range(3)]
    plain, encoded = _store_both(tmp_path, batches)
    assert encoded == plain
    assert plain[1].duplicates > 0  # later batches repeat ids: dedup re-encodes a subset
    with Store.open(str(tmp_path / "encoded")) as store:
        stored = list(store.iter_events())
    unique = {identity(e): e for batch in batches for e in batch}
    assert sorted(map(identity, stored)) == sorted(unique)


def test_a_partly_fresh_part_stores_only_its_fresh_events_in_order(tmp_path):
    evs = trades(random.Random(6), 20)
    repeated = [*evs[5:12], evs[12], evs[12], *evs[13:15]]  # a repeat inside the batch too
    plain, encoded = _store_both(tmp_path, [evs[:10], repeated, evs[:15]])
    assert encoded == plain
    assert [(r.stored, r.duplicates) for r in encoded] == [(10, 0), (5, 6), (0, 15)]
    with Store.open(str(tmp_path / "encoded")) as store:
        assert list(store.iter_events()) == evs[:15]


def test_a_part_beyond_the_record_limit_is_split_like_the_stores_own_frames(tmp_path, monkeypatch):
    monkeypatch.setattr(rec, "MAX_RECORD_BYTES", 2_000)
    batch = trades(random.Random(7), 100)
    parts = encode_batch(batch).parts
    assert len(parts) > 1 and all(len(p.payload) <= 2_000 for p in parts)
    assert [k for p in parts for k in p.keys] == identity_keys(batch)
    plain, encoded = _store_both(tmp_path, [batch, batch[40:60]])
    assert encoded == plain and encoded[1].duplicates == 20


def test_only_the_encoding_crosses_a_process_boundary_and_stores_the_same(tmp_path):
    events = _mixed(random.Random(4))
    batcher = Batcher("p", BatchPolicy(), encode=True)
    batcher.add(events, now_ns=0)
    batch = batcher.take(now_ns=1)
    wire = pickle.loads(pickle.dumps(batch))  # as Ray ships it
    assert b"mdc.events" not in pickle.dumps(batch)  # no event object is pickled
    assert wire.events == [] and wire.size == batch.size == len(events)
    assert (wire.encoded.symbols, wire.encoded.venue) == (2, "binance")
    assert sorted(map(identity, wire.decoded())) == sorted(map(identity, events))
    with Store.open(str(tmp_path / "events")) as store:
        result = store.append(events)
    with Store.open(str(tmp_path / "wire")) as store:
        assert store.append(wire.for_store()) == result
    assert _segments(str(tmp_path / "events")) == _segments(str(tmp_path / "wire"))
    plain = Batcher("p", BatchPolicy())  # unencoded batches keep their events
    plain.add(events, now_ns=0)
    assert pickle.loads(pickle.dumps(plain.take(now_ns=1))).events == events


def test_a_batch_that_cannot_be_encoded_goes_as_events_and_only_the_bad_one_is_refused(tmp_path):
    evs = trades(random.Random(8), 10)
    bad = msgspec.structs.replace(evs[3], trade_id=10**40)
    batcher = Batcher("p", BatchPolicy(), encode=True)
    batcher.add([*evs[:3], bad, *evs[4:]], now_ns=0)
    wire = pickle.loads(pickle.dumps(batcher.take(now_ns=1)))
    assert wire.encoded is None and wire.size == 10 and wire.for_store() == wire.events
    with Store.open(str(tmp_path)) as store:
        with pytest.raises(UnstorableEvent) as info:
            store.append(wire.for_store())
        assert [r.event.trade_id for r in info.value.refused] == [10**40]
        assert list(store.iter_events()) == evs[:3] + evs[4:]


def test_dedup_keys_of_id_less_events_are_the_same_in_another_process():
    events = [Status("kraken", "", 1, 2, state="connected"), *trades(random.Random(5), 2)]
    events.append(Gap("kraken", "XBT-USD", 3, 4, stream="book", reason="crc"))
    script = (
        "import pickle, sys; from mdc.store.dedup import identity_keys; "
        "sys.stdout.write(repr(identity_keys(pickle.loads(sys.stdin.buffer.read()))))"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    other = subprocess.run(
        [sys.executable, "-c", script], input=pickle.dumps(events), capture_output=True,
        env=env, check=True, timeout=60,
    )  # fmt: skip
    assert other.stdout.decode() == repr(identity_keys(events))


def test_a_batch_of_events_crosses_as_msgpack_not_as_pickled_events():
    """Batches without a WAL encoding (book batches, a supervisor's status) cross as one msgpack
    string: cloudpickle of the events cost the provider about 15 µs per event."""
    events = _mixed(random.Random(5))
    batcher = Batcher("p", BatchPolicy())
    batcher.add(events, now_ns=0)
    batch = batcher.take(now_ns=1)
    shipped = pickle.dumps(batch)
    assert b"mdc.events" not in shipped
    wire = pickle.loads(shipped)
    assert wire == batch and wire.events == events


def test_a_batch_of_events_that_msgpack_refuses_still_crosses_whole():
    evs = trades(random.Random(9), 4)
    bad = msgspec.structs.replace(evs[1], trade_id=10**40)
    batcher = Batcher("p", BatchPolicy())
    batcher.add([evs[0], bad, *evs[2:]], now_ns=0)
    wire = pickle.loads(pickle.dumps(batcher.take(now_ns=1)))
    assert wire.events == [evs[0], bad, *evs[2:]]
