"""OpenTelemetry tracing for the pipeline: one trace follows a batch from the socket to the fsync.

Spans are per frame and per batch, never per event. Each process (each Ray actor) calls
`setup_tracing` once and keeps the tracer it returns; the parent/child link between processes
travels only inside `EventBatch.trace`, a plain dict holding the W3C `traceparent` (`inject` on
the sending side, the `carrier=` argument of a span helper on the receiving side).

Configuration follows the standard environment variables: `OTEL_TRACES_EXPORTER`
(`none` by default, `otlp`, `console`, or a comma list), `OTEL_EXPORTER_OTLP_ENDPOINT` (read by the
OTLP/HTTP exporter itself), `OTEL_TRACES_SAMPLER`/`OTEL_TRACES_SAMPLER_ARG` (default
`parentbased_traceidratio` at `DEFAULT_SAMPLE_RATIO`) and `OTEL_SERVICE_NAME`. With
`MDC_TRACES_FILE` set, `console` writes there (see `console_to_file` for `mdc run`). With nothing
configured the tracer is the API's no-op tracer and the span helpers return one shared
`nullcontext`: tracing then costs a function call and an isinstance check.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Mapping, MutableMapping, Sequence
from contextlib import AbstractContextManager
from functools import partial
from typing import TextIO

from opentelemetry import context as context_api
from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    ConsoleSpanExporter,
    SimpleSpanProcessor,
    SpanExporter,
    SpanExportResult,
)
from opentelemetry.sdk.trace.id_generator import IdGenerator
from opentelemetry.sdk.trace.sampling import (
    ALWAYS_OFF,
    ALWAYS_ON,
    ParentBased,
    Sampler,
    TraceIdRatioBased,
)
from opentelemetry.trace import (
    INVALID_SPAN,
    NonRecordingSpan,
    NoOpTracer,
    Span,
    SpanContext,
    Status,
    StatusCode,
    Tracer,
    set_span_in_context,
)
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from actors.sidefiles import SideFile
from mdc.errors import ConfigError, LocalMisuse
from mdc.events import Event
from mdc.store.encoded import EncodedBatch

Batch = Sequence[Event] | EncodedBatch
"""A batch's events, or their encoding (the writer's spans describe either)."""

PROVIDER_RECEIVE = "provider.receive"
COLLECTOR_PROCESS = "collector.process"
PIPELINE_ENQUEUE = "pipeline.enqueue"
STORAGE_WRITE = "storage.write"
WAL_APPEND = "wal.append"

DEFAULT_SAMPLE_RATIO = 0.01
"""One batch trace in a hundred: enough to see where time goes, cheap enough to leave on."""

ATTR_VENUE = "mdc.venue"
ATTR_SYMBOLS = "mdc.symbol_count"
ATTR_BATCH_SIZE = "mdc.batch_size"
ATTR_BYTES = "mdc.bytes"
ATTR_PRODUCER = "mdc.producer"

EXPORTERS = ("otlp", "console", "none")
_PROPAGATOR = TraceContextTextMapPropagator()
NO_TRACER = NoOpTracer()
"""For spans a caller decides not to record (cheaper than asking the sampler)."""
_OFF: AbstractContextManager[Span] = contextlib.nullcontext(INVALID_SPAN)
_providers: list[TracerProvider] = []


class TelemetryConfigError(ConfigError):
    """An OTEL_* variable (or argument) has a value we cannot use; the message names it."""


class BadCarrier(LocalMisuse):
    """A trace carrier that is not a dict of strings: a caller's bug."""


# -- setup -------------------------------------------------------------------------------------


def setup_tracing(
    service_name: str,
    *,
    sample_ratio: float | None = None,
    exporter: SpanExporter | None = None,
    id_generator: IdGenerator | None = None,
    environ: Mapping[str, str] | None = None,
) -> Tracer:
    """The tracer for this process. `exporter` (tests: an InMemorySpanExporter) is used in
    addition to those OTEL_TRACES_EXPORTER names, synchronously; `sample_ratio` overrides the
    OTEL_TRACES_SAMPLER variables with parent-based ratio sampling."""
    env = os.environ if environ is None else environ
    names = exporter_names(env)
    if exporter is None and env.get(TRACES_FILE_ENV):
        exporter = SpanFile(env[TRACES_FILE_ENV])
        names = [name for name in names if name != "console"]  # the file is the console here
    if exporter is None and not names:
        return NoOpTracer()
    resource = Resource.create(
        {
            "service.name": env.get("OTEL_SERVICE_NAME") or service_name,
            "mdc.component": service_name,
        }
    )
    provider = TracerProvider(
        sampler=sampler_from(env, sample_ratio), resource=resource, id_generator=id_generator
    )
    if exporter is not None:
        provider.add_span_processor(SimpleSpanProcessor(exporter))
    for name in names:
        provider.add_span_processor(BatchSpanProcessor(_exporter_named(name)))
    _providers.append(provider)
    return provider.get_tracer("mdc")


TRACES_FILE_ENV = "MDC_TRACES_FILE"
"""Every recorded span of every process, one JSON object a line, here; also where
`OTEL_TRACES_EXPORTER=console` writes when set (an actor's stdout is not shown anywhere)."""
TRACES_FILE = "traces.jsonl"
CONSOLE_SAMPLE_RATIO = "0.1"
"""`mdc run`'s ratio for console export when none is set: several traces a second to look at."""


class SpanFile(SpanExporter):
    """Spans appended to a file, one JSON object a line. A file that cannot be written (disk
    full, read-only) costs spans, never the actor: one warning, and the SDK's exporter would
    have logged a traceback for every span instead. Opened at the first export, so a directory
    that cannot even be created is that same warning, not an actor that fails to start."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._file = SideFile("traces file", path, "spans are dropped until it can")
        self._out: TextIO | None = None

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        text = "".join(span.to_json(indent=None) + "\n" for span in spans)
        written = self._file.write(partial(self._append, text))
        return SpanExportResult.SUCCESS if written else SpanExportResult.FAILURE

    def _append(self, text: str) -> None:
        if self._out is None:
            os.makedirs(os.path.dirname(self.path) or ".", exist_ok=True)  # a node without it
            self._out = open(self.path, "a")  # noqa: SIM115 - lives as long as the tracer
        self._out.write(text)
        self._out.flush()


def console_to_file(data_dir: str, environ: MutableMapping[str, str]) -> str | None:
    """Under `mdc run`, console export goes to the traces file (MDC_TRACES_FILE, by default
    DATA_DIR/traces.jsonl) of every actor process, sampled at CONSOLE_SAMPLE_RATIO unless
    OTEL_TRACES_SAMPLER_ARG says otherwise. Sets the variables the supervisor hands to the
    actors, before they start; returns the file, or None without console export."""
    if "console" not in exporter_names(environ):
        return None
    environ.setdefault(TRACES_FILE_ENV, os.path.join(os.path.abspath(data_dir), TRACES_FILE))
    environ.setdefault("OTEL_TRACES_SAMPLER_ARG", CONSOLE_SAMPLE_RATIO)
    return environ[TRACES_FILE_ENV]


def flush_tracing(timeout_ms: int = 5000) -> bool:
    """Export what this process's providers still buffer (call before an actor stops)."""
    return all(provider.force_flush(timeout_ms) for provider in _providers)


def exporter_names(env: Mapping[str, str]) -> list[str]:
    raw = env.get("OTEL_TRACES_EXPORTER", "none")
    names = [name.strip().lower() for name in raw.split(",") if name.strip()]
    unknown = [name for name in names if name not in EXPORTERS]
    if unknown:
        raise TelemetryConfigError(
            f"OTEL_TRACES_EXPORTER: unknown exporter {unknown[0]!r} (valid: {', '.join(EXPORTERS)})"
        )
    return [name for name in names if name != "none"]


def sampler_from(env: Mapping[str, str], sample_ratio: float | None) -> Sampler:
    if sample_ratio is not None:
        return ParentBased(TraceIdRatioBased(_ratio(sample_ratio, "sample_ratio")))
    name = env.get("OTEL_TRACES_SAMPLER", "parentbased_traceidratio").strip().lower()
    arg = env.get("OTEL_TRACES_SAMPLER_ARG", "").strip()
    ratio = _ratio(arg, "OTEL_TRACES_SAMPLER_ARG") if arg else DEFAULT_SAMPLE_RATIO
    samplers: dict[str, Sampler] = {
        "always_on": ALWAYS_ON,
        "always_off": ALWAYS_OFF,
        "traceidratio": TraceIdRatioBased(ratio),
        "parentbased_always_on": ParentBased(ALWAYS_ON),
        "parentbased_always_off": ParentBased(ALWAYS_OFF),
        "parentbased_traceidratio": ParentBased(TraceIdRatioBased(ratio)),
    }
    if name not in samplers:
        raise TelemetryConfigError(
            f"OTEL_TRACES_SAMPLER: unknown sampler {name!r} (valid: {', '.join(samplers)})"
        )
    return samplers[name]


def _ratio(value: float | str, where: str) -> float:
    try:
        ratio = float(value)
    except ValueError:
        raise TelemetryConfigError(f"{where} must be a number in [0, 1], not {value!r}") from None
    if not 0.0 <= ratio <= 1.0:
        raise TelemetryConfigError(f"{where} must be in [0, 1], not {ratio}")
    return ratio


def _exporter_named(name: str) -> SpanExporter:
    if name == "console":
        return ConsoleSpanExporter(out=sys.stdout)  # today's stdout, not the one at import
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import (  # noqa: PLC0415
        OTLPSpanExporter,  # imported only when asked for: it pulls in requests and protobuf
    )

    return OTLPSpanExporter()


# -- propagation -------------------------------------------------------------------------------


def inject(source: Span | SpanContext | None = None) -> dict[str, str]:
    """W3C trace context of `source` (default: the current span) as a plain dict, for
    `EventBatch.trace`; empty when there is no valid span (tracing off)."""
    if isinstance(source, SpanContext):
        source = NonRecordingSpan(source)
    context = set_span_in_context(source) if source is not None else None
    carrier: dict[str, str] = {}
    _PROPAGATOR.inject(carrier, context)
    return carrier


def extract(carrier: Mapping[str, str]) -> Context:
    """The context to parent a span on; a root context when the carrier is empty or unreadable
    (a malformed traceparent is dropped, as the W3C spec asks)."""
    if not isinstance(carrier, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in carrier.items()
    ):
        raise BadCarrier(f"trace carrier must be a dict of str to str, not {carrier!r}")
    return _PROPAGATOR.extract(carrier, Context())


# -- the pipeline's spans ----------------------------------------------------------------------


def provider_receive(tracer: Tracer, *, venue: str, nbytes: int) -> AbstractContextManager[Span]:
    """One websocket frame read and decoded."""
    return span(tracer, PROVIDER_RECEIVE, venue=venue, nbytes=nbytes)


def collector_process(
    tracer: Tracer, *, venue: str, events: Sequence[Event]
) -> AbstractContextManager[Span]:
    """The provider's handling of one frame's events (continuity, batching, book fan-out)."""
    return span(tracer, COLLECTOR_PROCESS, venue=venue, events=events)


def pipeline_enqueue(
    tracer: Tracer, *, producer: str, events: Batch, carrier: Mapping[str, str]
) -> AbstractContextManager[Span]:
    """A batch handed to the writer, child of the span that started the batch (`carrier`: the
    frame whose events opened it, even when a timer sends the batch); inject() inside it fills
    `EventBatch.trace`."""
    return span(tracer, PIPELINE_ENQUEUE, carrier=carrier, producer=producer, events=events)


def storage_write(
    tracer: Tracer, *, carrier: Mapping[str, str], producer: str, events: Batch
) -> AbstractContextManager[Span]:
    """The writer's handling of one batch, a child of the producer's span via `carrier`."""
    return span(tracer, STORAGE_WRITE, carrier=carrier, producer=producer, events=events)


def wal_append(tracer: Tracer, *, events: Batch) -> AbstractContextManager[Span]:
    """Append and group commit (fsync); set ATTR_BYTES on the span once the size is known."""
    return span(tracer, WAL_APPEND, events=events)


def span(
    tracer: Tracer,
    name: str,
    *,
    carrier: Mapping[str, str] | None = None,
    venue: str | None = None,
    producer: str | None = None,
    events: Batch | None = None,
    nbytes: int | None = None,
) -> AbstractContextManager[Span]:
    """A span named `name`, child of `carrier`'s span when a carrier is given (even an empty one:
    then a root), else of the current span. Attributes are computed only for recorded spans."""
    if isinstance(tracer, NoOpTracer):
        return _OFF
    attributes = {ATTR_VENUE: venue, ATTR_PRODUCER: producer, ATTR_BYTES: nbytes}
    parent = extract(carrier) if carrier is not None else None
    return _Scope(tracer, name, parent, attributes, events)


class _Scope:
    """Start a span, make it current, end it: what `start_as_current_span` does, without its two
    generator-based context managers (half the cost of an unsampled span)."""

    __slots__ = ("attributes", "events", "name", "parent", "span", "token", "tracer")

    def __init__(
        self,
        tracer: Tracer,
        name: str,
        parent: Context | None,
        attributes: dict[str, str | int | None],
        events: Batch | None,
    ) -> None:
        self.tracer = tracer
        self.name = name
        self.parent = parent
        self.attributes = attributes
        self.events = events

    def __enter__(self) -> Span:
        self.span = span = self.tracer.start_span(self.name, context=self.parent)
        if span.is_recording():
            if self.events is not None:
                _describe(self.attributes, self.events)
            span.set_attributes({k: v for k, v in self.attributes.items() if v is not None})
        self.token = context_api.attach(set_span_in_context(span))
        return span

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, _tb: object
    ) -> None:
        context_api.detach(self.token)
        if exc is not None and self.span.is_recording():
            self.span.record_exception(exc)
            self.span.set_status(Status(StatusCode.ERROR, f"{exc_type.__name__}: {exc}"))
        self.span.end()


def _describe(attributes: dict[str, str | int | None], events: Batch) -> None:
    if isinstance(events, EncodedBatch):
        size, symbols, venue = events.size, events.symbols, events.venue
    else:
        size, symbols = len(events), len({event.symbol for event in events})
        venue = events[0].venue if events else None
    attributes[ATTR_BATCH_SIZE] = size
    attributes[ATTR_SYMBOLS] = symbols
    if attributes[ATTR_VENUE] is None:
        attributes[ATTR_VENUE] = venue
