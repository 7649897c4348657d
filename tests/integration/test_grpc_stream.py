"""The gRPC market data server on a real store and loopback: every durable trade once and in
order, filters, replay-to-live handoff and resume, reconnects, auth codes, bad requests, and a
stalled subscriber that costs the others nothing. (The same against a real `mdc run`:
test_run_grpc.py.)"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Iterator

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from actors.waiting import wait_until_sync
from mdc.client import MarketDataClient, Received, SubscriptionError
from mdc.events import Event, Trade, identity
from mdc.store import Store
from mdc.store.follow import Position
from mdc.store.streams import Stream
from mdc.store.synth import book_stream, trades
from mdc.v1 import market_data_pb2 as pb
from mdc.v1 import market_data_pb2_grpc as pb_grpc
from serve.auth import KeyRing
from serve.deployment import free_port
from serve.streaming.grpc_server import MarketDataServer
from serve.streaming.standalone import ServerThread
from serve.streaming.tails import StoreTails

KEY = "test-key"
VENUES = ["binance", "kraken"]
TIMEOUT_S = 30


def _events(seed: int, n: int, offset_ns: int = 0) -> list[Event]:
    """Trades of three streams (ids unique across calls with distinct offsets) and a book."""
    start, ids = 1_700_000_000_000_000_000 + offset_ns, 1 + offset_ns // 1000
    evs = (
        trades(random.Random(seed), n, start_ns=start, first_id=ids)
        + trades(
            random.Random(seed + 1),
            n,
            venue="kraken",
            symbol="BTC-USD",
            start_ns=start,
            first_id=ids,
        )
        + trades(random.Random(seed + 2), n, symbol="ETH-USDT", start_ns=start, first_id=ids)
        + book_stream(random.Random(seed + 3), n, step_ns=1_000_000)
    )
    return sorted(evs, key=lambda e: e.ts_recv)


class Rig:
    """A writable store the test appends to and a server following it."""

    def __init__(self, data_dir: str, capacity: int = 10_000, port: int = 0) -> None:
        self.data_dir = data_dir
        self.store = Store.open(data_dir)
        self.capacity = capacity
        self.port = port
        self.thread: ServerThread | None = None

    def start(self) -> str:
        tails = StoreTails(self.data_dir, every_s=0.02)
        server = MarketDataServer(self.data_dir, tails, KeyRing([KEY]), VENUES, self.capacity)
        self.thread = ServerThread(server)
        return self.thread.start("127.0.0.1", self.port)

    def stop(self) -> None:
        if self.thread is not None:
            self.thread.stop()

    def append(self, events: list[Event], chunk: int = 200) -> None:
        for i in range(0, len(events), chunk):
            self.store.append(events[i : i + chunk])

    def stored_trades(self, streams: set[Stream] | None = None) -> dict[Stream, list[bytes]]:
        out = {}
        for stream in self.store.wal.streams():
            if stream.family == "trades" and (streams is None or stream in streams):
                out[stream] = [identity(e) for _, e in self.store.wal.read_events(stream)]
        return out


@pytest.fixture
def rig(tmp_path) -> Iterator[Rig]:
    made = Rig(str(tmp_path))
    made.append(_events(1, 300))  # the streams exist before the server starts
    made.start()
    yield made
    made.stop()
    made.store.close()


class Collector:
    """A subscription read on a thread, until `stop` or an error."""

    def __init__(self, target: str, kind: str = "trades", **params) -> None:
        self.got: list[Received] = []
        self.error: Exception | None = None
        self.client = MarketDataClient(target, api_key=KEY, max_reconnects=params.pop("retries", 0))
        self._thread = threading.Thread(target=self._read, args=(kind, params), daemon=True)
        self._thread.start()

    def _read(self, kind: str, params: dict) -> None:
        try:
            for got in self.client.subscribe(kind, **params):
                self.got.append(got)
        except (SubscriptionError, ValueError) as exc:
            self.error = exc

    def wait_for(self, count: int) -> None:
        wait_until_sync(lambda: len(self.got) >= count or self.error, TIMEOUT_S, f"{count} events")
        assert self.error is None, self.error

    def close(self) -> None:
        self.client.close()
        self._thread.join(TIMEOUT_S)

    def by_stream(self) -> dict[Stream, list[bytes]]:
        out: dict[Stream, list[bytes]] = {}
        for got in self.got:
            e = got.event
            out.setdefault(Stream(e.venue, "trades", e.symbol), []).append(identity(e))
        return out


def _trade_count(events: list[Event]) -> int:
    return sum(isinstance(e, Trade) for e in events)


def test_a_subscriber_from_the_start_gets_every_stored_trade_once_then_live(rig):
    sub = Collector(rig.thread.target, start=0)
    try:
        more = _events(2, 700, offset_ns=10**12)
        rig.append(more)
        sub.wait_for(3 * 1000)
        time.sleep(0.2)  # nothing more may come: a duplicate would show here
        assert sub.by_stream() == rig.stored_trades()
        last = Position.from_token(sub.got[-1].position).as_dict()
        assert {s: q for s, q in last.items() if s.family == "trades"} == {
            s: len(ids) for s, ids in rig.stored_trades().items()
        }
    finally:
        sub.close()


def test_filters_by_venue_and_symbol_glob_before_sending(rig):
    only_eth = Collector(rig.thread.target, start=0, venues=["binance"], symbols=["ETH-*"])
    only_kraken = Collector(rig.thread.target, start=0, venues=["kraken"])
    try:
        rig.append(_events(2, 200, offset_ns=10**12))
        only_eth.wait_for(500)
        only_kraken.wait_for(500)
        time.sleep(0.2)
        eth, kraken = Stream("binance", "trades", "ETH-USDT"), Stream("kraken", "trades", "BTC-USD")
        assert only_eth.by_stream() == rig.stored_trades({eth})
        assert only_kraken.by_stream() == rig.stored_trades({kraken})
    finally:
        only_eth.close()
        only_kraken.close()


def test_resuming_from_a_position_continues_with_no_gap_and_no_duplicate(rig):
    first = Collector(rig.thread.target, start=0)
    try:
        first.wait_for(900)
        cut = 450
        later = Collector(rig.thread.target, start=first.got[cut].position)
        try:
            # appends go on while the second one replays, then it must join the live stream
            for i in range(5):
                rig.append(_events(10 + i, 100, offset_ns=(i + 1) * 10**12))
            total = 900 + 5 * 300
            first.wait_for(total)
            later.wait_for(total - cut - 1)
            time.sleep(0.2)
            assert [identity(g.event) for g in later.got] == [
                identity(g.event) for g in first.got[cut + 1 :]
            ]
            assert later.got[-1].position == first.got[-1].position
        finally:
            later.close()
    finally:
        first.close()


def test_a_live_subscriber_starts_after_what_was_durable(rig):
    sub = Collector(rig.thread.target)
    try:
        wait_until_sync(lambda: rig.thread.server.hub.subscribers == 1, TIMEOUT_S, "attached")
        fresh = _events(3, 100, offset_ns=10**12)
        rig.append(fresh)
        sub.wait_for(_trade_count(fresh))
        time.sleep(0.2)
        # exactly the fresh trades, each stream in stored order (streams interleave by what was
        # durable when the hub read, not by one global receive-time order)
        expected: dict[Stream, list[bytes]] = {}
        for e in fresh:
            if isinstance(e, Trade):
                expected.setdefault(Stream(e.venue, "trades", e.symbol), []).append(identity(e))
        assert sub.by_stream() == expected
    finally:
        sub.close()


def test_a_client_reconnects_after_a_server_restart_and_misses_nothing(tmp_path):
    rig = Rig(str(tmp_path), port=free_port())
    rig.append(_events(1, 200))
    rig.start()
    sub = Collector(rig.thread.target, start=0, retries=50)
    try:
        sub.wait_for(600)
        rig.stop()
        rig.append(_events(2, 200, offset_ns=10**12))  # while no server runs
        rig.start()
        rig.append(_events(3, 200, offset_ns=2 * 10**12))
        sub.wait_for(1800)
        time.sleep(0.2)
        assert sub.by_stream() == rig.stored_trades()
    finally:
        sub.close()
        rig.stop()
        rig.store.close()


def _call(target: str, metadata=(), request=None):
    with grpc.insecure_channel(target) as channel:
        stub = pb_grpc.MarketDataServiceStub(channel)
        stream = stub.SubscribeTrades(request or pb.SubscribeRequest(), metadata=metadata)
        return next(iter(stream))


@pytest.mark.parametrize(
    ("metadata", "code"),
    [
        ((), grpc.StatusCode.UNAUTHENTICATED),
        ((("x-api-key", "wrong"),), grpc.StatusCode.PERMISSION_DENIED),
    ],
)
def test_a_missing_or_wrong_key_is_refused_with_its_code(rig, metadata, code):
    with pytest.raises(grpc.RpcError) as refused:
        _call(rig.thread.target, metadata)
    assert refused.value.code() == code
    assert _call(rig.thread.target, (("x-api-key", KEY),)).position  # the right key works


def test_health_and_reflection_answer_without_a_key(rig):
    with grpc.insecure_channel(rig.thread.target) as channel:
        health = health_pb2_grpc.HealthStub(channel)
        answer = health.Check(health_pb2.HealthCheckRequest(service="mdc.v1.MarketDataService"))
        assert answer.status == health_pb2.HealthCheckResponse.SERVING
        reflect = reflection_pb2_grpc.ServerReflectionStub(channel)
        ask = reflection_pb2.ServerReflectionRequest(list_services="")
        services = next(iter(reflect.ServerReflectionInfo(iter([ask]))))
        names = {s.name for s in services.list_services_response.service}
        assert "mdc.v1.MarketDataService" in names


@pytest.mark.parametrize(
    ("request_", "code", "field"),
    [
        (pb.SubscribeRequest(venues=["nope"]), grpc.StatusCode.INVALID_ARGUMENT, "venues"),
        (pb.SubscribeRequest(symbols=["BTC [x"]), grpc.StatusCode.INVALID_ARGUMENT, "symbols"),
        (
            pb.SubscribeRequest(start=pb.Start(position="@@")),
            grpc.StatusCode.INVALID_ARGUMENT,
            "start.position",
        ),
        (
            pb.SubscribeRequest(
                start=pb.Start(
                    position=Position.of({Stream("binance", "trades", "BTC-USDT"): 10**9}).token()
                )
            ),
            grpc.StatusCode.OUT_OF_RANGE,
            "start.position",
        ),
        (pb.SubscribeRequest(policy=9), grpc.StatusCode.INVALID_ARGUMENT, "policy"),
    ],
)
def test_bad_subscriptions_are_answered_with_the_field_at_fault(rig, request_, code, field):
    with pytest.raises(grpc.RpcError) as refused:
        _call(rig.thread.target, (("x-api-key", KEY),), request_)
    assert refused.value.code() == code
    assert refused.value.details().startswith(field + ":"), refused.value.details()


def test_a_depth_of_zero_is_invalid(rig):
    with grpc.insecure_channel(rig.thread.target) as channel:
        stub = pb_grpc.MarketDataServiceStub(channel)
        stream = stub.SubscribeDepth(pb.DepthRequest(levels=0), metadata=(("x-api-key", KEY),))
        with pytest.raises(grpc.RpcError) as refused:
            next(iter(stream))
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert refused.value.details().startswith("levels:")
    assert rig.thread.server.hub.subscribers == 0  # and the server goes on
    assert _call(rig.thread.target, (("x-api-key", KEY),)).position


class Stalled:
    """A subscriber that never reads: a channel with a small HTTP/2 window (no BDP probing), so
    the server's writes block soon."""

    def __init__(self, target: str, policy: int) -> None:
        self.channel = grpc.insecure_channel(target, options=[("grpc.http2.bdp_probe", 0)])
        stub = pb_grpc.MarketDataServiceStub(self.channel)
        request = pb.SubscribeRequest(policy=policy)
        self.call = stub.SubscribeTrades(request, metadata=(("x-api-key", KEY),))

    def drain(self) -> tuple[int, grpc.StatusCode | None]:
        """Read what is left now; (events read, the status the stream ended with)."""
        events = 0
        try:
            for batch in self.call:
                events += len(batch.events)
        except grpc.RpcError as error:
            return events, error.code()
        return events, None


def _paced_delivery(rig: Rig, seed: int, rounds: int = 15) -> tuple[float, int]:
    """Append `rounds` chunks 50 ms apart while a live subscriber reads; (its rate in events/s
    from the first append to the last event received, events received)."""
    sub = Collector(rig.thread.target)
    try:
        wait_until_sync(lambda: sub.got or rig.thread.server.hub.subscribers, TIMEOUT_S, "attach")
        pause = threading.Event()
        total = 0
        started = time.monotonic()
        for i in range(rounds):
            chunk = _events(seed + i, 100, offset_ns=(seed + i) * 10**12)
            rig.append(chunk, chunk=10_000)
            total += _trade_count(chunk)
            pause.wait(0.05)
        sub.wait_for(total)
        elapsed = time.monotonic() - started
        return total / elapsed, len(sub.got)
    finally:
        sub.close()


def test_a_stalled_subscriber_costs_the_others_nothing_and_memory_stays_bounded(tmp_path):
    rig = Rig(str(tmp_path), capacity=300)
    rig.append(_events(1, 50))
    rig.start()
    stalled: list[Stalled] = []
    try:
        alone, _ = _paced_delivery(rig, 100)
        stalled = [Stalled(rig.thread.target, p) for p in (1, 2, 3)]  # conflate, gap, disconnect
        wait_until_sync(lambda: rig.thread.server.hub.subscribers == 3, TIMEOUT_S, "stalled ones")
        beside, received = _paced_delivery(rig, 200)
        assert beside >= 0.9 * alone, (beside, alone)
        feeds = list(rig.thread.server.hub._feeds)
        assert all(len(f.outbox) <= 300 + 3 for f in feeds)  # capacity + one per key/stream
        conflate, gap, disconnect = stalled
        events, code = disconnect.drain()
        assert code == grpc.StatusCode.RESOURCE_EXHAUSTED and events < received
        gap.channel.close()
        conflate.channel.close()
        wait_until_sync(lambda: rig.thread.server.hub.subscribers == 0, TIMEOUT_S, "all gone")
    finally:
        for one in stalled:
            one.channel.close()
        rig.stop()
        rig.store.close()


def test_bars_streamed_from_the_start_equal_the_stored_bars(rig):
    sub = Collector(rig.thread.target, "bars", start=0, interval_s=1, symbols=["BTC-USDT"])
    try:
        rig.append(_events(5, 3000, offset_ns=10**12))  # a few seconds of venue time per stream
        with MarketDataClient(rig.thread.target, api_key=KEY) as client:
            stored = list(client.historical_bars("binance", "BTC-USDT", interval_s=1))
        closed = stored[:-1]  # the newest bar is still open on the stream
        assert len(closed) >= 2
        sub.wait_for(len(closed))

        def ohlcv(bar) -> tuple:
            values = (bar.open, bar.high, bar.low, bar.close, bar.volume)
            return (bar.ts_event, bar.interval_s, bar.trade_count, *map(str, values))

        assert [ohlcv(g.event) for g in sub.got[: len(closed)]] == [ohlcv(b) for b in closed]
    finally:
        sub.close()


def test_depth_starts_with_the_book_then_follows_it_and_get_book_agrees(rig):
    sub = Collector(rig.thread.target, "depth", levels=5)
    try:
        sub.wait_for(1)  # the current book, at once
        first = sub.got[0].event
        assert first.in_sync and len(first.bids) == 5 and first.bids[0][0] < first.asks[0][0]
        with MarketDataClient(rig.thread.target, api_key=KEY) as client:
            book = client.book("binance", "BTC-USDT", depth=5)
        assert [(lv.price, lv.size) for lv in book.bids] == [
            (str(p), str(s)) for p, s in first.bids
        ]
        later = 1_700_000_000_000_000_000 + 10**12
        rig.append(book_stream(random.Random(7), 50, symbol="ETH-USDT", start_ns=later))
        wait_until_sync(lambda: len(sub.got) > 1, TIMEOUT_S, "a depth update")
        assert {g.event.symbol for g in sub.got[1:]} == {"ETH-USDT"}  # a new stream, followed
        assert all(g.event.in_sync and len(g.event.asks) == 5 for g in sub.got)
    finally:
        sub.close()


def test_a_replay_longer_than_the_outbox_waits_instead_of_thinning(tmp_path):
    rig = Rig(str(tmp_path), capacity=100)
    rig.append(_events(1, 1000))
    rig.start()
    sub = Collector(rig.thread.target, start=0, policy="disconnect")
    try:
        sub.wait_for(3000)
        assert sub.by_stream() == rig.stored_trades()
    finally:
        sub.close()
        rig.stop()
        rig.store.close()


def test_the_running_server_implements_every_method_of_the_proto(rig):
    service = pb.DESCRIPTOR.services_by_name["MarketDataService"]
    with grpc.insecure_channel(rig.thread.target) as channel:
        for method in service.methods:
            request = getattr(pb, method.input_type.name)()
            call = channel.unary_stream if method.server_streaming else channel.unary_unary
            path = f"/{service.full_name}/{method.name}"
            try:
                answer = call(path)(request.SerializeToString(), timeout=5)
                next(iter(answer)) if method.server_streaming else answer
            except grpc.RpcError as error:  # no key: refused, but by the method itself
                assert error.code() == grpc.StatusCode.UNAUTHENTICATED, (method.name, error)
            else:
                raise AssertionError(f"{method.name} answered without a key")
