"""Metrics: the driver's registry fed from actor pings, served over real HTTP on 127.0.0.1."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from actors.metrics import (
    LagHistogram,
    Metrics,
    MetricsError,
    MetricsServer,
    readiness_from_status,
    update_from_status,
)

NAMES = [
    "mdc_events",
    "mdc_end_to_end_lag_seconds",
    "mdc_queue_depth",
    "mdc_reconnects",
    "mdc_restarts",
    "mdc_gaps",
    "mdc_backfilled_trades",
    "mdc_dlq_entries",
    "mdc_failures",
    "mdc_provider_messages",
    "mdc_provider_network_bytes",
    "mdc_provider_api_calls",
]


def provider_ping(pid: int, messages: int, reconnects: int, lag: LagHistogram) -> dict:
    return {
        "state": "running",
        "restarts": 0,
        "venue": "binance",
        "pid": pid,
        "reconnects": reconnects,
        "unacked": 3,
        "gaps by stream": {"trades": 1},
        "events by type": {"trade": messages, "quote": 2 * messages},
        "backfilled": 4,
        "lag ms": 12.5,
        "lag histogram": lag.snapshot(),
    }


def sample(metrics: Metrics, name: str, **labels: str) -> float:
    for family in text_string_to_metric_families(metrics.render().decode()):
        for s in family.samples:
            if s.name == name and s.labels == labels:
                return s.value
    raise AssertionError(f"no sample {name} {labels}")


def test_update_from_status_maps_a_supervisor_status() -> None:
    metrics = Metrics()
    lag = LagHistogram()
    lag.observe(0.003)
    lag.observe(0.2)
    status = {
        "writer": {
            "state": "running",
            "restarts": 0,
            "stored": 90,
            "duplicates": 10,
            "failures by cause": {"backpressure_overflow": 2},
            "dlq": [["storage_failure", "pending", 3]],
        },
        "books:binance": {"state": "running", "restarts": 1, "pid": 7, "gaps": 2, "unacked": 1},
        "provider:binance": provider_ping(11, 10, 1, lag),
    }
    update_from_status(metrics, status)
    assert sample(metrics, "mdc_events_total", venue="binance", type="quote") == 20
    assert sample(metrics, "mdc_reconnects_total", venue="binance") == 1
    assert sample(metrics, "mdc_restarts_total", actor="books:binance") == 1
    assert sample(metrics, "mdc_gaps_total", venue="binance", stream="trades") == 1
    assert sample(metrics, "mdc_gaps_total", venue="binance", stream="(books)") == 2
    assert sample(metrics, "mdc_backfilled_trades_total", venue="binance") == 4
    assert sample(metrics, "mdc_queue_depth", queue="provider:binance/unacked") == 3
    assert sample(metrics, "mdc_stored_events_total", outcome="duplicate") == 10
    assert sample(metrics, "mdc_failures_total", cause="backpressure_overflow") == 2
    assert sample(metrics, "mdc_dlq_entries", cause="storage_failure", state="pending") == 3
    bucket = "mdc_end_to_end_lag_seconds_bucket"
    assert sample(metrics, bucket, venue="binance", le="0.005") == 1
    assert sample(metrics, bucket, venue="binance", le="+Inf") == 2
    assert sample(metrics, "mdc_end_to_end_lag_seconds_sum", venue="binance") == pytest.approx(
        0.203
    )


def test_counters_never_go_back_when_an_actor_restarts() -> None:
    """A new incarnation (new pid) reports from zero again: its counts add to the old ones."""
    metrics = Metrics()
    lag = LagHistogram()
    lag.observe(0.01)
    update_from_status(metrics, {"provider:binance": provider_ping(11, 10, 1, lag)})
    update_from_status(metrics, {"provider:binance": provider_ping(11, 15, 1, lag)})
    assert sample(metrics, "mdc_events_total", venue="binance", type="trade") == 15
    restarted = {**provider_ping(12, 4, 0, LagHistogram()), "restarts": 1}
    update_from_status(metrics, {"provider:binance": restarted})
    assert sample(metrics, "mdc_events_total", venue="binance", type="trade") == 19
    assert sample(metrics, "mdc_reconnects_total", venue="binance") == 1
    assert sample(metrics, "mdc_restarts_total", actor="provider:binance") == 1
    assert sample(metrics, "mdc_end_to_end_lag_seconds_count", venue="binance") == 1


def usage_ping(pid: int, scale: int) -> dict:
    usage = {
        "messages": 10 * scale, "ws_bytes_in": 1000 * scale, "ws_bytes_out": 50,
        "rest_bytes_in": 300 * scale, "api_calls": {"connect": 1, "snapshot": scale},
    }  # fmt: skip
    return {**provider_ping(pid, 1, 0, LagHistogram()), "started_ns": pid, "usage": usage}


def test_provider_usage_counters_only_go_up_across_a_restart() -> None:
    metrics = Metrics()
    update_from_status(metrics, {"provider:binance": usage_ping(11, 1)})
    update_from_status(metrics, {"provider:binance": usage_ping(11, 2)})
    update_from_status(metrics, {"provider:binance": usage_ping(12, 1)})  # new incarnation
    bytes_total = "mdc_provider_network_bytes_total"
    assert sample(metrics, "mdc_provider_messages_total", venue="binance") == 30
    websocket = {"venue": "binance", "transport": "websocket"}
    assert sample(metrics, bytes_total, direction="in", **websocket) == 3000
    assert sample(metrics, bytes_total, direction="out", **websocket) == 100
    assert sample(metrics, bytes_total, venue="binance", direction="in", transport="rest") == 900
    calls = "mdc_provider_api_calls_total"
    assert sample(metrics, calls, venue="binance", kind="connect") == 2
    assert sample(metrics, calls, venue="binance", kind="snapshot") == 3


def test_driver_side_counts_and_dlq_sizes() -> None:
    metrics = Metrics()
    metrics.count_failure("storage")
    metrics.count_failure("storage", 2)
    metrics.set_dlq({("storage", "pending"): 5, ("parse", "parked"): 1})
    metrics.set_dlq({("parse", "parked"): 1})
    assert sample(metrics, "mdc_failures_total", cause="storage") == 3
    assert sample(metrics, "mdc_dlq_entries", cause="storage", state="pending") == 0
    assert sample(metrics, "mdc_dlq_entries", cause="parse", state="parked") == 1


def test_alert_metrics_firing_notifications_and_lag() -> None:
    metrics = Metrics()
    life = ("alerts", 1)
    stats = {"firing": {"data_gap/critical": 2}, "sent": {"team/slack/0": 3}, "lag_ns": 5e8}
    metrics.update_alerts(stats, life)
    metrics.update_alerts({**stats, "firing": {}, "sent": {"team/slack/0": 5}}, life)
    assert sample(metrics, "mdc_alerts_firing", alertname="data_gap", severity="critical") == 0
    got = sample(metrics, "mdc_alert_notifications_total", channel="team/slack/0", outcome="sent")
    assert got == 5
    assert sample(metrics, "mdc_alert_evaluation_lag_seconds") == 0.5


def test_bad_status_is_a_typed_error() -> None:
    metrics = Metrics()
    with pytest.raises(MetricsError, match="writer"):
        update_from_status(metrics, {"writer": "running"})  # type: ignore[dict-item]
    bad_lag = {"bounds": [0.1], "counts": [1], "sum": 0.0}
    with pytest.raises(MetricsError, match="lag histogram"):
        update_from_status(
            metrics, {"provider:kraken": {"state": "running", "lag histogram": bad_lag}}
        )


def test_readiness_from_status() -> None:
    assert readiness_from_status({}) == (False, "no actors started yet")
    ready, reason = readiness_from_status(
        {"writer": {"state": "running"}, "provider:kraken": {"state": "restarting"}}
    )
    assert not ready
    assert reason == "provider:kraken is restarting"
    assert readiness_from_status({"writer": {"state": "running"}})[0]


async def _serve_and_probe(metrics: Metrics, state: dict) -> list[tuple[str, int, str]]:
    def ready() -> tuple[bool, str]:
        return readiness_from_status(state)

    server = MetricsServer(metrics, ready, port=0)
    port = await server.start()
    results = []
    try:
        async with aiohttp.ClientSession(f"http://127.0.0.1:{port}") as http:
            for path in ("/metrics", "/livez", "/readyz"):
                async with http.get(path) as response:
                    results.append((path, response.status, await response.text()))
            state["writer"]["state"] = "running"
            async with http.get("/readyz") as response:
                results.append(("/readyz", response.status, await response.text()))
    finally:
        await server.stop()
    with pytest.raises(aiohttp.ClientConnectionError):
        async with aiohttp.ClientSession() as http:
            await http.get(f"http://127.0.0.1:{port}/livez")
    return results


def test_metrics_server_over_http() -> None:
    metrics = Metrics()
    state = {"writer": {"state": "starting"}}
    results = asyncio.run(asyncio.wait_for(_serve_and_probe(metrics, state), 20))
    (_, m_status, body), (_, l_status, _), (_, r1, reason), (_, r2, _) = results
    assert m_status == 200
    for name in NAMES:
        assert f"# TYPE {name}" in body
    assert l_status == 200
    assert r1 == 503
    assert "writer is starting" in reason
    assert r2 == 200


def test_a_failing_readiness_check_reads_as_not_ready() -> None:
    def broken() -> tuple[bool, str]:
        raise RuntimeError("supervisor gone")

    async def probe() -> tuple[int, str]:
        server = MetricsServer(Metrics(), broken)
        port = await server.start()
        try:
            async with (
                aiohttp.ClientSession() as http,
                http.get(f"http://127.0.0.1:{port}/readyz") as response,
            ):
                return response.status, await response.text()
        finally:
            await server.stop()

    status, body = asyncio.run(asyncio.wait_for(probe(), 20))
    assert status == 503
    assert "supervisor gone" in body


def test_a_store_refusing_writes_is_not_ready_and_a_gauge_says_why() -> None:
    metrics = Metrics()
    enospc = "[Errno 28] No space left on device"
    status = {"writer": {"state": "running", "refusing writes": enospc}}
    update_from_status(metrics, status)
    assert readiness_from_status(status) == (False, f"store refusing writes: {enospc}")
    assert sample(metrics, "mdc_store_refusing_writes", reason=enospc) == 1

    status["writer"]["refusing writes"] = ""  # a commit succeeded again
    update_from_status(metrics, status)
    assert readiness_from_status(status) == (True, "all actors running")
    assert sample(metrics, "mdc_store_refusing_writes", reason=enospc) == 0
