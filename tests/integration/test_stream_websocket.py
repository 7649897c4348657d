"""`/v1/stream` on the API's ingress (real uvicorn, real WebSockets, the real gRPC server on a
real store): the same trades as gRPC in `mdc normalize`'s JSON plus positions, the key in a
header or the first message, resume from a position, and the close codes of bad requests."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from actors.waiting import wait_until_sync
from mdc.events import identity, to_json
from mdc.store.follow import Position
from mdc.store.streams import Stream
from serve.ab import ABRouter
from serve.app import build_app
from serve.auth import KeyRing
from serve.http_limits import serving, uvicorn_config
from serve.streaming import websocket
from tests.integration.test_grpc_stream import KEY, Rig, _events
from tests.unit.test_serve_doubles import DictFeatureSource, LinearModel

TIMEOUT_S = 20


@pytest.fixture(scope="module")
def ws_url(tmp_path_factory) -> Iterator[tuple[str, Rig]]:
    """One store, gRPC server and uvicorn for the module (grpc.aio takes seconds to move to a
    second event loop in one process: every test here uses the first)."""
    rig = Rig(str(tmp_path_factory.mktemp("store")))
    rig.append(_events(1, 100))
    target = rig.start()
    app = build_app(
        ABRouter(LinearModel("v1"), LinearModel("v2"), 0.0),
        DictFeatureSource({}),
        KeyRing([KEY]),
        stream_target=target,
    )
    try:
        with serving(uvicorn_config(app, log_level="warning", lifespan="off")) as url:
            yield url.replace("http://", "ws://") + "/v1/stream", rig
    finally:
        rig.stop()
        rig.store.close()


def _read(ws, count: int) -> list[dict]:
    return [json.loads(ws.recv(timeout=TIMEOUT_S)) for _ in range(count)]


def _stored(rig: Rig) -> list[bytes]:
    return [i for ids in rig.stored_trades().values() for i in ids]


def test_the_header_key_streams_stored_trades_as_normalize_json_with_positions(ws_url):
    url, rig = ws_url
    with connect(url + "?from=0", additional_headers={"X-API-Key": KEY}) as ws:
        got = _read(ws, 300)
    stored = set(_stored(rig))
    events = [_event(line) for line in got]
    assert {identity(e) for e in events} == stored and len(events) == len(stored)
    for line, event in zip(got, events, strict=True):
        assert {k: v for k, v in line.items() if k != "position"} == json.loads(to_json(event))
        Position.from_token(line["position"])  # a real resume token


def _event(line: dict):
    from mdc.events import from_json

    return from_json(json.dumps({k: v for k, v in line.items() if k != "position"}))


def test_the_first_message_carries_key_and_subscription_and_a_position_resumes(ws_url):
    url, _ = ws_url
    with connect(url) as ws:
        ws.send(json.dumps({"api_key": KEY, "from": "0", "venues": ["kraken"]}))
        first = _read(ws, 50)
    assert {line["venue"] for line in first} == {"kraken"}
    with connect(url + f"?from={first[9]['position']}&venues=kraken") as ws:
        ws.send(json.dumps({"api_key": KEY}))
        resumed = _read(ws, 40)
    assert [line["trade_id"] for line in resumed] == [line["trade_id"] for line in first[10:50]]


@pytest.fixture
def quick_first_message(monkeypatch) -> None:
    monkeypatch.setattr(websocket, "FIRST_MESSAGE_S", 0.5)


@pytest.mark.usefixtures("quick_first_message")
@pytest.mark.parametrize(
    ("query", "first", "code", "reason"),
    [
        ("", None, 1008, "missing API key"),  # nothing sent in time
        ("", {"type": "trades"}, 1008, "missing API key"),
        ("", {"api_key": "wrong"}, 1008, "not accepted"),
        ("", "not json", 1003, "first message"),
        ("?type=candles", {"api_key": KEY}, 1003, "type:"),
        ("?venues=nope", {"api_key": KEY}, 1003, "venues:"),
        ("?symbols=BTC%20[x", {"api_key": KEY}, 1003, "symbols:"),
        ("?type=depth&levels=0", {"api_key": KEY}, 1003, "levels:"),
        ("?levels=many", {"api_key": KEY}, 1003, "levels:"),
        ("?from=@@", {"api_key": KEY}, 1003, "from:"),
    ],
)
def test_bad_requests_close_with_a_code_and_a_reason(ws_url, query, first, code, reason):
    url, _ = ws_url
    with connect(url + query, open_timeout=TIMEOUT_S) as ws:
        if first is not None:
            ws.send(first if isinstance(first, str) else json.dumps(first))
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=TIMEOUT_S)
    assert closed.value.rcvd.code == code
    assert reason in closed.value.rcvd.reason


def test_a_position_beyond_the_log_is_refused_naming_the_field(ws_url):
    url, _ = ws_url
    beyond = Position.of({Stream("binance", "trades", "BTC-USDT"): 10**9}).token()
    headers = {"X-API-Key": KEY}
    with (
        connect(url + f"?from={beyond}", additional_headers=headers) as ws,
        pytest.raises(ConnectionClosed) as closed,
    ):
        ws.recv(timeout=TIMEOUT_S)
    assert closed.value.rcvd.code == 1003
    assert closed.value.rcvd.reason.startswith("start.position:")


def test_a_browser_that_leaves_frees_its_subscription(ws_url):
    url, rig = ws_url
    hub = rig.thread.server.hub
    wait_until_sync(lambda: hub.subscribers == 0, TIMEOUT_S, "earlier tests' streams to end")
    with connect(url, additional_headers={"X-API-Key": KEY}) as ws:
        wait_until_sync(lambda: hub.subscribers == 1, TIMEOUT_S, "the relayed subscription")
        ws.close()
    wait_until_sync(lambda: hub.subscribers == 0, TIMEOUT_S, "the subscription to end")
