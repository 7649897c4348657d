"""Traces across actors, storage failures and malformed messages into the dead letter queue,
and the metrics endpoint of `mdc run`: a real Ray runtime and the simulator on loopback."""

import asyncio
import errno
import json
from pathlib import Path

import pytest

from actors.supervisor import Supervisor
from actors.telemetry import TRACES_FILE_ENV
from chaos.harness import ping_child
from mdc.dlq import DeadLetterQueue
from mdc.errors import MalformedMessage
from mdc.simulator.server import Simulator
from mdc.venues.registry import get_venue
from tests.integration.collector import collect, wait_until

pytestmark = [pytest.mark.ray, pytest.mark.usefixtures("ray_runtime")]
CHAIN = ["provider.receive", "collector.process", "pipeline.enqueue", "storage.write", "wal.append"]


async def writer_ping(supervisor: Supervisor) -> dict:
    return await ping_child(supervisor, "writer")


def test_one_trace_follows_a_batch_from_the_socket_to_the_fsync(tmp_path, monkeypatch):
    spans_file = tmp_path / "spans.jsonl"
    monkeypatch.setenv(TRACES_FILE_ENV, str(spans_file))
    monkeypatch.setenv("OTEL_TRACES_SAMPLER", "always_on")

    async def scenario(supervisor: Supervisor, sim: Simulator) -> None:
        await wait_until(_exists(spans_file), 20, "spans written")

    asyncio.run(collect(tmp_path, ("binance",), scenario, settle_events=100))
    spans = [json.loads(line) for line in spans_file.read_text().splitlines()]
    by_id = {s["context"]["span_id"]: s for s in spans}
    chains = []
    for span in spans:
        if span["name"] != "wal.append":
            continue
        chain, node = [], span
        while node is not None:
            chain.append(node)
            node = by_id.get(node.get("parent_id"))
        chains.append(chain[::-1])
    complete = [c for c in chains if [s["name"] for s in c] == CHAIN]
    assert complete, f"no complete chain among {len(chains)} wal.append spans"
    chain = complete[0]
    assert len({s["context"]["trace_id"] for s in chain}) == 1
    processes = {s["resource"]["attributes"]["mdc.component"] for s in chain}
    assert processes == {"provider:binance", "writer"}  # two actors, two processes
    assert chain[2]["attributes"]["mdc.batch_size"] >= 1


def test_storage_failure_under_live_ingest_goes_to_the_dlq_and_comes_back_once(tmp_path):
    async def scenario(supervisor: Supervisor, sim: Simulator) -> None:
        writer = supervisor.children["writer"].handle
        await asyncio.wrap_future(
            writer._fail_storage_for_testing.remote("write", errno.EIO).future()
        )
        await wait_until(_dead_lettered(supervisor, 200), 30, "batches in the dead letter queue")
        await asyncio.wrap_future(writer._heal_storage_for_testing.remote().future())
        await wait_until(_dlq_drained(supervisor), 60, "dead letters retried into the store")

    result = asyncio.run(collect(tmp_path, ("binance", "kraken"), scenario, writer_faults=True))
    assert result.report.ok, "\n".join(result.report.lines())
    writer = result.status["writer"]
    assert writer["failures"]["storage_failure"] >= 1
    assert writer["dlq_by_cause"]["storage_failure"] >= 1
    assert result.report.trades_found == result.report.trades_expected > 100


def test_malformed_messages_land_in_the_dlq_with_their_bytes_and_ingest_goes_on(tmp_path):
    async def scenario(supervisor: Supervisor, sim: Simulator) -> None:
        sim.set_faults("kraken", corrupt=0.05)
        await wait_until(_parse_failures(supervisor, 3), 30, "parse failures dead-lettered")
        sim.set_faults("kraken", corrupt=0.0)

    result = asyncio.run(collect(tmp_path, ("kraken",), scenario))
    assert result.report.ok, "\n".join(result.report.lines())
    with DeadLetterQueue.open(str(tmp_path)) as dlq:
        entries = [e for e in dlq.list() if e.cause == "parse_failure"]
    assert len(entries) >= 3
    for entry in entries:
        assert entry.venue == "kraken" and entry.error
        with pytest.raises(MalformedMessage):
            get_venue("kraken").parse(entry.raw, 0)  # the bytes exactly as received


def _exists(path: Path):
    async def check() -> bool:
        return path.exists() and path.stat().st_size > 0

    return check


def _dead_lettered(supervisor: Supervisor, events: int):
    async def check() -> bool:
        return (await writer_ping(supervisor))["dead_lettered"] >= events

    return check


def _dlq_drained(supervisor: Supervisor):
    async def check() -> bool:
        ping = await writer_ping(supervisor)
        return ping["dlq_by_state"].get("pending", 0) == 0

    return check


def _parse_failures(supervisor: Supervisor, count: int):
    async def check() -> bool:
        return (await writer_ping(supervisor))["failures"].get("parse_failure", 0) >= count

    return check
