"""Log followers: every durable event exactly once, in replay order, across batches, appends,
restarts and new streams; positions survive a round trip; reads stay bounded."""

from __future__ import annotations

import base64
import heapq
import io
import os
import random
from collections.abc import Callable

import msgspec
import pytest

from mdc.errors import LocalMisuse
from mdc.events import Event, type_name
from mdc.store import Store
from mdc.store.follow import BadPosition, Follower, FollowerState, Position, StreamPos
from mdc.store.fs import RealFS
from mdc.store.streams import Stream, StreamFilter, stream_of
from mdc.store.synth import book_stream, trades


def _events(n: int = 300) -> list[Event]:
    """Four streams in arrival (ts_recv) order; binance and kraken trades share their times, so
    the merge has ties to break by stream."""
    evs = (
        trades(random.Random(1), n)
        + trades(random.Random(1), n, venue="kraken", symbol="BTC-USD")
        + trades(random.Random(2), n, symbol="ETH-USDT")
        + book_stream(random.Random(3), n, step_ns=1_000_000)
    )
    return sorted(evs, key=lambda e: e.ts_recv)


def _drain(follower: Follower, max_events: int) -> list[tuple[StreamPos, Event]]:
    items = []
    while batch := follower.next_batch(max_events):
        items += batch.items
    return items


def _by_stream(items: list[tuple[StreamPos, Event]]) -> dict[Stream, list[tuple[int, Event]]]:
    out: dict[Stream, list[tuple[int, Event]]] = {}
    for (stream, seq), event in items:
        out.setdefault(stream, []).append((seq, event))
    return out


def _stored(store: Store) -> dict[Stream, list[tuple[int, Event]]]:
    return {s: list(store.wal.read_events(s)) for s in store.wal.streams()}


@pytest.mark.parametrize("restart_every", [None, 3])
def test_a_follower_gets_every_event_once_while_appends_go_on(tmp_path, restart_every):
    evs = _events()
    state = FollowerState.named(str(tmp_path), "jsonl-mirror")
    with Store.open(str(tmp_path)) as store:
        follower = Follower(store.wal, Position.start())
        got = []
        for i, cut in enumerate(range(0, len(evs), 97)):
            store.append(evs[cut : cut + 97])
            batch = follower.next_batch(40)
            got += batch.items
            if restart_every and i % restart_every == 0:
                state.save(batch.position)
                follower.close()
                follower = Follower(store.wal, state.load(Position.end(store.wal)))
        got += _drain(follower, 40)
        assert _by_stream(got) == _stored(store)
        assert len(got) == len(evs)


@pytest.mark.parametrize(("max_events", "restart_every"), [(1, None), (7, 5), (10_000, None)])
def test_following_a_finished_log_is_the_replay_order(tmp_path, max_events, restart_every):
    with Store.open(str(tmp_path)) as store:
        store.append(_events())
        follower, got, calls = Follower(store.wal, Position.start()), [], 0
        while batch := follower.next_batch(max_events):
            got += batch.events
            calls += 1
            if restart_every and calls % restart_every == 0:
                follower = Follower(store.wal, Position.from_token(batch.position.token()))
        assert got == list(store.iter_events())


class _CountingFile(io.FileIO):
    def __init__(self, path: str, fs: _CountingFS) -> None:
        super().__init__(path, "rb")
        self._fs = fs

    def read(self, size: int = -1) -> bytes:
        data = super().read(size)
        self._fs.bytes_read += len(data)
        return data


class _CountingFS(RealFS):
    """Counts the bytes the WAL reads and the segment files it opens (unbuffered, so exact)."""

    def __init__(self) -> None:
        self.bytes_read = 0
        self.opened: list[str] = []

    def open_read(self, path: str) -> _CountingFile:  # type: ignore[override]
        self.opened.append(path)
        return _CountingFile(path, self)


@pytest.mark.parametrize(
    ("only", "replay"),
    [
        (StreamFilter(venues={"kraken"}), {"venue": "kraken"}),
        (StreamFilter(symbols={"ETH-USDT"}), {"symbol": "ETH-USDT"}),
        (StreamFilter(families={"book"}, venues={"binance"}), {"venue": "binance"}),
    ],
)
def test_a_filtered_follower_never_opens_the_other_streams(tmp_path, only, replay):
    fs = _CountingFS()
    with Store.open(str(tmp_path), fs=fs) as store:
        store.append(_events())
        fs.opened.clear()
        got = [event for _, event in _drain(Follower(store.wal, Position.start(), only), 50)]
        opened = {Stream.from_dirname(os.path.basename(os.path.dirname(p))) for p in fs.opened}
        expected = [e for e in store.iter_events(**replay) if only.matches(stream_of(e))]
    assert got == expected and got
    assert opened and all(only.matches(s) for s in opened)


def _bounds(start: int | None, end: int | None, types: set[str] | None) -> Callable[[Event], bool]:
    def keep(event: Event) -> bool:
        return (
            (start is None or event.ts_recv >= start)
            and (end is None or event.ts_recv < end)
            and (types is None or type_name(event) in types)
        )

    return keep


def test_bounds_filter_each_stream_before_the_merge(tmp_path):
    """`keep` skips events as they are read, so with receive times that go back within a stream
    the order is the merge of what each stream keeps (what `Store.iter_events` always gave), not
    the full merge filtered; positions move past what was skipped, so a restart goes on."""
    rng = random.Random(8)
    evs = [
        msgspec.structs.replace(e, ts_recv=e.ts_recv + rng.randint(-5_000_000, 5_000_000))
        for e in _events(200)
    ]
    with Store.open(str(tmp_path)) as store:
        store.append(evs)
        times, differs = sorted(e.ts_recv for e in evs), []
        for start, end, types in [
            (times[100], times[-100], None),
            (None, times[500], {"trade", "gap"}),
            (None, None, {"trade", "book_delta"}),
        ]:
            keep = _bounds(start, end, types)
            kept = [[e for _, e in store.wal.read_events(s) if keep(e)] for s in store.streams()]
            merged = list(heapq.merge(*kept, key=lambda e: e.ts_recv))
            differs.append(merged != [e for e in store.iter_events() if keep(e)])
            assert list(store.iter_events(start, end, types=types)) == merged
            follower, got = Follower(store.wal, Position.start(), keep=keep), []
            while batch := follower.next_batch(9):
                got += batch.events
                follower.close()
                follower = Follower(store.wal, batch.position, keep=keep)
            assert got == merged
            assert follower.position == Position.of(store.wal.positions())
        assert any(differs)  # where filtering before or after the merge is not the same


def test_a_live_follower_picks_up_new_streams_from_their_start(tmp_path):
    binance = trades(random.Random(4), 200)
    kraken = trades(random.Random(5), 50, venue="kraken", symbol="BTC-USD")
    with Store.open(str(tmp_path)) as store:
        store.append(binance[:150])
        follower = Follower(store.wal, Position.end(store.wal))
        assert not follower.next_batch(10)
        store.append(binance[150:] + kraken)
        got = _drain(follower, 10)
    assert _by_stream(got) == {
        stream_of(binance[0]): list(enumerate(binance))[150:],
        stream_of(kraken[0]): list(enumerate(kraken)),
    }


def test_an_event_older_than_what_was_delivered_comes_late_not_never(tmp_path):
    btc, eth = trades(random.Random(6), 10), trades(random.Random(6), 10, symbol="ETH-USDT")
    with Store.open(str(tmp_path)) as store:
        store.append(eth)
        follower = Follower(store.wal, Position.start())
        assert _drain(follower, 100) and not follower.next_batch(100)
        store.append(btc)  # same times as the ETH trades already delivered
        assert follower.next_batch(100).events == btc


def test_reads_stay_bounded_on_a_long_stream(tmp_path):
    fs, segment_bytes = _CountingFS(), 1 << 20
    evs = trades(random.Random(7), 100_000)
    stream = stream_of(evs[0])
    with Store.open(str(tmp_path), fs=fs, segment_bytes=segment_bytes) as store:
        for cut in range(0, len(evs), 1000):
            store.append(evs[cut : cut + 1000])  # one WAL record per 1000 events
        total = sum(size for _, size in store.wal.segment_sizes(stream))
        record_bytes = total // 100
        fs.bytes_read = 0
        follower = Follower(store.wal, Position.start())
        assert follower.next_batch(10).events == evs[:10]
        assert fs.bytes_read <= record_bytes + 100
        before = fs.bytes_read
        assert follower.next_batch(10).events == evs[10:20]
        assert fs.bytes_read == before  # the open reader goes on: nothing is read again
        fs.bytes_read = 0
        middle = Follower(store.wal, Position.of({stream: 50_000}))
        assert middle.next_batch(10).events == evs[50_000:50_010]
        assert fs.bytes_read <= segment_bytes + record_bytes
    assert total > 5 * segment_bytes


def test_a_position_token_round_trips_and_is_stable():
    pos = Position.of(
        {
            Stream("binance", "trades", "BTC-USDT"): 42,
            Stream("kraken", "book", "BTC/USD"): 7,
            Stream("coinbase", "quotes", "ETH-USD"): 0,
        }
    )
    assert pos.token() == "kgGCt2JpbmFuY2UrdHJhZGVzK0JUQy1VU0RUKrVrcmFrZW4rYm9vaytCVEMlMkZVU0QH"
    assert Position.from_token(pos.token()) == pos == Position.from_bytes(pos.to_bytes())
    assert Stream("coinbase", "quotes", "ETH-USD") not in pos.as_dict()
    odd = Position.of({Stream("a+b", "status", ""): 1, Stream("%/", "bars", "x y"): 2})
    assert Position.from_token(odd.token()) == odd
    assert Position.from_token(Position.start().token()) == Position.start()


def _token(value: object) -> str:
    return base64.urlsafe_b64encode(msgspec.msgpack.encode(value)).rstrip(b"=").decode()


@pytest.mark.parametrize(
    "token",
    [
        "",
        "not a token!",
        "kgGA\u00e9",
        _token([1, 2, 3]),
        _token([2, {}]),
        _token([1, {"binance+trades+BTC-USDT": -1}]),
        _token([1, {"binance+trades+BTC-USDT": "1"}]),
        _token([1, {"binance+trades": 1}]),
        _token([1, {"binance+nonsense+BTC-USDT": 1}]),
    ],
)
def test_a_malformed_token_is_a_bad_position(token):
    with pytest.raises(BadPosition):
        Position.from_token(token)


def test_follower_state_is_saved_atomically_by_name(tmp_path):
    state = FollowerState.named(str(tmp_path), "grpc.sub-1")
    assert state.path == str(tmp_path / "followers" / "grpc.sub-1.pos")
    assert state.load(Position.start()) == Position.start()
    pos = Position.of({Stream("binance", "trades", "BTC-USDT"): 9})
    state.save(pos)
    assert state.load(Position.start()) == pos
    assert os.listdir(tmp_path / "followers") == ["grpc.sub-1.pos"]
    (tmp_path / "followers" / "grpc.sub-1.pos").write_bytes(b"junk")
    with pytest.raises(BadPosition):
        state.load(Position.start())
    for name in ("", "../x", "a/b", ".hidden"):
        with pytest.raises(LocalMisuse):
            FollowerState.named(str(tmp_path), name)
    with pytest.raises(LocalMisuse):
        Follower(None, Position.start()).next_batch(0)  # type: ignore[arg-type]


def test_jsonl_in_small_follower_batches_equals_one_batch(tmp_path):
    evs, outputs = _events(), []
    for name, batch_events in (("one", 100_000), ("small", 7)):
        with Store.open(str(tmp_path / name)) as store:
            store.jsonl.batch_events = batch_events
            for cut in range(0, len(evs), 500):
                store.append(evs[cut : cut + 500])
                store.jsonl.refresh(store.wal)
        root = tmp_path / name / "jsonl"
        outputs.append(
            {p.relative_to(root): p.read_bytes() for p in root.rglob("*") if p.is_file()}
        )
    assert outputs[0] == outputs[1]
    assert sum(v.count(b"\n") for k, v in outputs[0].items() if k.suffix == ".jsonl") == len(evs)
