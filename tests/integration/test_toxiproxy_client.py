"""Every call of the unmodified toxiproxy-python client against our server."""

from __future__ import annotations

import pytest
from toxiproxy import Toxiproxy
from toxiproxy.exceptions import InvalidToxic, NotFound, ProxyExists
from toxiproxy.proxy import Proxy

from tests.integration.toxiproxy_support import EchoServer, connect, recv_exactly, running_server


@pytest.fixture(scope="module")
def server():
    with running_server() as srv:
        yield srv


@pytest.fixture(scope="module")
def echo():
    srv = EchoServer()
    yield srv
    srv.stop()


@pytest.fixture
def toxiproxy(server):
    client = Toxiproxy()
    client.update_api_consumer(server.host, server.port)
    client.destroy_all()
    yield client
    client.destroy_all()


def round_trip(listen: str, data: bytes = b"ping") -> bytes:
    with connect(listen) as sock:
        sock.sendall(data)
        return recv_exactly(sock, len(data))


def test_running_and_version(toxiproxy):
    assert toxiproxy.running() is True
    assert toxiproxy.version() == b'{"version": "2.12.0"}\n'


def test_not_running_after_stop():
    with running_server() as srv:
        port = srv.port
    client = Toxiproxy()
    client.update_api_consumer("127.0.0.1", port)
    assert client.running() is False
    assert client.version() is None


def test_create_reports_the_real_port_and_proxies(toxiproxy, echo):
    proxy = toxiproxy.create(upstream=echo.address, name="echo")
    assert isinstance(proxy, Proxy)
    assert proxy.listen.startswith("127.0.0.1:") and not proxy.listen.endswith(":0")
    assert proxy.enabled is True and proxy.upstream == echo.address
    assert round_trip(proxy.listen) == b"ping"
    assert set(toxiproxy.proxies()) == {"echo"}
    assert toxiproxy.get_proxy("echo").listen == proxy.listen
    assert toxiproxy.get_proxy("missing") is None


def test_create_disabled_and_duplicate(toxiproxy, echo):
    proxy = toxiproxy.create(upstream=echo.address, name="off", enabled=False)
    assert proxy.enabled is False and proxy.listen == "127.0.0.1:0"
    with pytest.raises(ProxyExists):
        toxiproxy.create(upstream=echo.address, name="off")


def test_toxics_add_list_get_destroy(toxiproxy, echo):
    proxy = toxiproxy.create(upstream=echo.address, name="tox")
    assert proxy.add_toxic(type="latency", attributes={"latency": 50, "jitter": 0}) is None
    proxy.add_toxic(type="limit_data", stream="upstream", name="cap", toxicity=0.5)
    toxics = proxy.toxics()
    assert set(toxics) == {"latency_downstream", "cap"}
    latency = proxy.get_toxic("latency_downstream")
    assert (latency.type, latency.stream, latency.toxicity) == ("latency", "downstream", 1)
    assert latency.attributes == {"latency": 50, "jitter": 0}
    assert toxics["cap"].attributes == {"bytes": 0} and toxics["cap"].toxicity == 0.5
    assert proxy.get_toxic("nope") is None
    assert proxy.destroy_toxic("cap") is True
    with pytest.raises(NotFound):
        proxy.destroy_toxic("cap")
    assert set(proxy.toxics()) == {"latency_downstream"}


def test_toxic_errors_map_to_client_exceptions(toxiproxy, echo):
    proxy = toxiproxy.create(upstream=echo.address, name="errs")
    with pytest.raises(InvalidToxic):
        proxy.add_toxic(type="down")
    with pytest.raises(InvalidToxic):
        proxy.add_toxic(type="latency", stream="sideways")
    proxy.add_toxic(type="latency")
    with pytest.raises(ProxyExists):
        proxy.add_toxic(type="latency")
    gone = Proxy(name="gone", upstream=echo.address, enabled=True, listen="127.0.0.1:1")
    with pytest.raises(NotFound):
        gone.add_toxic(type="latency")


def test_disable_enable_and_down(toxiproxy, echo):
    proxy = toxiproxy.create(upstream=echo.address, name="flip")
    proxy.disable()
    assert proxy.enabled is False and toxiproxy.get_proxy("flip").enabled is False
    with pytest.raises(ConnectionRefusedError):
        round_trip(proxy.listen)
    proxy.enable()
    assert toxiproxy.get_proxy("flip").enabled is True
    assert round_trip(proxy.listen) == b"ping"
    with proxy.down():
        assert toxiproxy.get_proxy("flip").enabled is False
        with pytest.raises(ConnectionRefusedError):
            round_trip(proxy.listen)
    assert toxiproxy.get_proxy("flip").enabled is True
    assert round_trip(proxy.listen) == b"ping"


def test_reset_enables_everything_and_removes_toxics(toxiproxy, echo):
    proxy = toxiproxy.create(upstream=echo.address, name="r")
    proxy.add_toxic(type="timeout")
    proxy.disable()
    assert toxiproxy.reset() is True
    assert toxiproxy.get_proxy("r").enabled is True
    assert proxy.toxics() == {}
    assert round_trip(proxy.listen) == b"ping"


def test_destroy_and_destroy_all(toxiproxy, echo):
    a = toxiproxy.create(upstream=echo.address, name="a")
    toxiproxy.create(upstream=echo.address, name="b")
    assert toxiproxy.destroy(a) is True
    assert toxiproxy.destroy("b") is False
    assert set(toxiproxy.proxies()) == {"b"}
    with pytest.raises(NotFound):
        a.destroy()
    toxiproxy.destroy_all()
    assert toxiproxy.proxies() == {}


def test_populate_creates_and_recreates_like_the_real_server(toxiproxy, echo):
    made = toxiproxy.populate([{"name": "p", "upstream": echo.address, "listen": "127.0.0.1:0"}])
    assert [p.name for p in made] == ["p"]
    first = made[0].listen
    again = toxiproxy.populate([{"name": "p", "upstream": echo.address, "listen": first}])
    assert again == []
    quirk = toxiproxy.populate([{"name": "p", "upstream": echo.address, "listen": "127.0.0.1:0"}])
    assert [p.name for p in quirk] == ["p"]
    assert round_trip(quirk[0].listen) == b"ping"
