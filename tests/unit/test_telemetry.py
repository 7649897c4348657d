"""Tracing: off by default, sampling by batch, one trace across two OS processes via the carrier."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from decimal import Decimal

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.id_generator import IdGenerator
from opentelemetry.trace import NoOpTracer

from actors import telemetry
from mdc.events import Trade

EVENTS = [
    Trade("binance", symbol, 1, 2, Decimal("1.5"), Decimal("2"), "buy", i)
    for i, symbol in enumerate(["BTC-USDT", "ETH-USDT", "BTC-USDT"])
]


class SeededIds(IdGenerator):
    """Deterministic trace and span ids, so a sampling test has one fixed outcome."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)

    def generate_span_id(self) -> int:
        return self.rng.getrandbits(64) or 1

    def generate_trace_id(self) -> int:
        return self.rng.getrandbits(128) or 1


def test_tracing_is_off_by_default() -> None:
    tracer = telemetry.setup_tracing("provider", environ={})
    assert isinstance(tracer, NoOpTracer)
    with telemetry.provider_receive(tracer, venue="binance", nbytes=10) as span:
        assert not span.is_recording()
        assert telemetry.inject() == {}
    assert telemetry.inject(span) == {}


def test_one_batch_makes_a_chain_with_attributes() -> None:
    exporter = InMemorySpanExporter()
    tracer = telemetry.setup_tracing("provider", sample_ratio=1.0, exporter=exporter, environ={})
    with (
        telemetry.provider_receive(tracer, venue="binance", nbytes=321),
        telemetry.collector_process(tracer, venue="binance", events=EVENTS),
        telemetry.pipeline_enqueue(
            tracer, producer="provider:binance", events=EVENTS, carrier=telemetry.inject()
        ),
    ):
        carrier = telemetry.inject()
    with (
        telemetry.storage_write(tracer, carrier=carrier, producer="p", events=EVENTS),
        telemetry.wal_append(tracer, events=EVENTS) as wal,
    ):
        wal.set_attribute(telemetry.ATTR_BYTES, 999)
    spans = {s.name: s for s in exporter.get_finished_spans()}
    assert _chain(spans.values()) == [
        "provider.receive",
        "collector.process",
        "pipeline.enqueue",
        "storage.write",
        "wal.append",
    ]
    enqueue = spans["pipeline.enqueue"].attributes
    assert enqueue[telemetry.ATTR_BATCH_SIZE] == 3
    assert enqueue[telemetry.ATTR_SYMBOLS] == 2
    assert enqueue[telemetry.ATTR_VENUE] == "binance"
    assert spans["provider.receive"].attributes[telemetry.ATTR_BYTES] == 321
    assert spans["wal.append"].attributes[telemetry.ATTR_BYTES] == 999


def test_an_exception_marks_the_span_as_error() -> None:
    exporter = InMemorySpanExporter()
    tracer = telemetry.setup_tracing("writer", sample_ratio=1.0, exporter=exporter, environ={})
    with pytest.raises(OSError), telemetry.wal_append(tracer, events=EVENTS):
        raise OSError(28, "No space left on device")
    (span,) = exporter.get_finished_spans()
    assert not span.status.is_ok
    assert span.events[0].name == "exception"


def test_sampling_ratio_is_honoured_and_children_follow_their_root() -> None:
    exporter = InMemorySpanExporter()
    tracer = telemetry.setup_tracing(
        "provider", sample_ratio=0.1, exporter=exporter, id_generator=SeededIds(7), environ={}
    )
    roots = 4000
    for _ in range(roots):
        with telemetry.provider_receive(tracer, venue="kraken", nbytes=1):
            carrier = telemetry.inject()
        with telemetry.storage_write(tracer, carrier=carrier, producer="p", events=EVENTS):
            pass
    spans = exporter.get_finished_spans()
    sampled = [s for s in spans if s.name == "provider.receive"]
    children = [s for s in spans if s.name == "storage.write"]
    # Binomial(4000, 0.1): mean 400, sd 19; the seeded ids make the count fixed.
    assert 330 <= len(sampled) <= 470
    assert {s.context.trace_id for s in children} == {s.context.trace_id for s in sampled}


def test_environment_selects_sampler_and_rejects_bad_values() -> None:
    exporter = InMemorySpanExporter()
    env = {"OTEL_TRACES_SAMPLER": "always_on", "OTEL_SERVICE_NAME": "mdc-test"}
    tracer = telemetry.setup_tracing("writer", exporter=exporter, environ=env)
    with telemetry.wal_append(tracer, events=EVENTS):
        pass
    (span,) = exporter.get_finished_spans()
    assert span.resource.attributes["service.name"] == "mdc-test"
    assert span.resource.attributes["mdc.component"] == "writer"
    with pytest.raises(telemetry.TelemetryConfigError, match="OTEL_TRACES_EXPORTER"):
        telemetry.setup_tracing("x", environ={"OTEL_TRACES_EXPORTER": "zipkin"})
    with pytest.raises(telemetry.TelemetryConfigError, match="OTEL_TRACES_SAMPLER_ARG"):
        telemetry.setup_tracing("x", exporter=exporter, environ={"OTEL_TRACES_SAMPLER_ARG": "2"})
    with pytest.raises(telemetry.TelemetryConfigError, match="OTEL_TRACES_SAMPLER"):
        telemetry.setup_tracing("x", exporter=exporter, environ={"OTEL_TRACES_SAMPLER": "maybe"})


def test_console_exporter_prints_spans(capsys: pytest.CaptureFixture[str]) -> None:
    tracer = telemetry.setup_tracing(
        "writer", sample_ratio=1.0, environ={"OTEL_TRACES_EXPORTER": "console"}
    )
    with telemetry.wal_append(tracer, events=EVENTS):
        pass
    assert telemetry.flush_tracing()
    assert '"name": "wal.append"' in capsys.readouterr().out


def test_bad_carriers() -> None:
    with pytest.raises(telemetry.BadCarrier):
        telemetry.extract({"traceparent": 5})  # type: ignore[dict-item]
    context = telemetry.extract({"traceparent": "not-a-traceparent"})
    exporter = InMemorySpanExporter()
    tracer = telemetry.setup_tracing("w", sample_ratio=1.0, exporter=exporter, environ={})
    with tracer.start_as_current_span("x", context=context):
        pass
    assert exporter.get_finished_spans()[0].parent is None


WRITER_PROCESS = """
import json, sys
from decimal import Decimal
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from actors import telemetry
from mdc.events import Trade
from tests.unit.test_telemetry import span_rows

exporter = InMemorySpanExporter()
tracer = telemetry.setup_tracing("writer", exporter=exporter, environ={})
carrier = json.loads(sys.stdin.readline())
events = [Trade("binance", "BTC-USDT", 1, 2, Decimal("1"), Decimal("1"), "buy", 1)]
with telemetry.storage_write(tracer, carrier=carrier, producer="provider:binance", events=events):
    with telemetry.wal_append(tracer, events=events):
        pass
print(json.dumps(span_rows(exporter)))
"""


def test_one_trace_across_two_processes() -> None:
    """The provider (this process) hands the batch's carrier to a writer in another process
    over a pipe; the writer's spans are children in the same trace. The writer samples nothing
    on its own (default 1%): it follows the sampled flag in the carrier."""
    exporter = InMemorySpanExporter()
    tracer = telemetry.setup_tracing("provider", sample_ratio=1.0, exporter=exporter, environ={})
    with (
        telemetry.provider_receive(tracer, venue="binance", nbytes=64),
        telemetry.pipeline_enqueue(
            tracer, producer="provider:binance", events=EVENTS, carrier=telemetry.inject()
        ),
    ):
        carrier = telemetry.inject()
    writer = subprocess.run(
        [sys.executable, "-c", WRITER_PROCESS],
        input=json.dumps(carrier) + "\n",
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
        cwd=os.path.dirname(os.path.dirname(os.path.dirname(__file__))),
    )
    remote = json.loads(writer.stdout)
    local = span_rows(exporter)
    spans = {s["name"]: s for s in local + remote}
    assert len({s["trace_id"] for s in spans.values()}) == 1
    assert spans["provider.receive"]["parent_id"] is None
    assert spans["pipeline.enqueue"]["parent_id"] == spans["provider.receive"]["span_id"]
    assert spans["storage.write"]["parent_id"] == spans["pipeline.enqueue"]["span_id"]
    assert spans["storage.write"]["remote"]
    assert spans["wal.append"]["parent_id"] == spans["storage.write"]["span_id"]


def test_console_under_mdc_run_goes_to_the_traces_file_only(tmp_path, capsys) -> None:
    assert telemetry.console_to_file(str(tmp_path), {"OTEL_TRACES_EXPORTER": "otlp"}) is None
    env = {"OTEL_TRACES_EXPORTER": "console"}
    path = telemetry.console_to_file(str(tmp_path / "data"), env)
    assert path == str(tmp_path / "data" / "traces.jsonl")
    assert env == {
        "OTEL_TRACES_EXPORTER": "console",
        telemetry.TRACES_FILE_ENV: path,
        "OTEL_TRACES_SAMPLER_ARG": telemetry.CONSOLE_SAMPLE_RATIO,
    }
    mine = {"OTEL_TRACES_EXPORTER": "console", "OTEL_TRACES_SAMPLER_ARG": "0.5"}
    mine[telemetry.TRACES_FILE_ENV] = str(tmp_path / "mine.jsonl")
    kept = dict(mine)
    assert telemetry.console_to_file(str(tmp_path), kept) == mine[telemetry.TRACES_FILE_ENV]
    assert kept == mine  # the user's file and ratio win

    tracer = telemetry.setup_tracing("writer", sample_ratio=1.0, environ=env)
    with telemetry.wal_append(tracer, events=EVENTS):
        pass
    assert telemetry.flush_tracing()
    (line,) = (tmp_path / "data" / "traces.jsonl").read_text().splitlines()
    assert json.loads(line)["name"] == "wal.append"
    assert capsys.readouterr().out == ""  # not also on this process's stdout


def span_rows(exporter: InMemorySpanExporter) -> list[dict]:
    """Finished spans as JSON-able rows (they cross the process boundary in the test)."""
    rows = []
    for s in exporter.get_finished_spans():
        parent = s.parent
        rows.append(
            {
                "name": s.name,
                "trace_id": s.context.trace_id,
                "span_id": s.context.span_id,
                "parent_id": parent.span_id if parent else None,
                "remote": bool(parent and parent.is_remote),
            }
        )
    return rows


def _chain(spans: object) -> list[str]:
    """Span names from the root down, following parent ids; fails on a fork or a break."""
    by_parent = {s.parent.span_id if s.parent else None: s for s in spans}  # type: ignore[attr-defined]
    names, parent = [], None
    while parent in by_parent:
        span = by_parent[parent]
        names.append(span.name)
        parent = span.context.span_id
    return names
