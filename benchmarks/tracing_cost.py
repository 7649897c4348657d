"""CPU that tracing adds per event, measured in one process where the box's noise cannot swamp it.

The pipeline's own spans, exactly as the actors open them: per batch, the frame that opens it
gets `provider.receive` and `collector.process`, the batch gets `pipeline.enqueue` (its context
injected into the batch), and the writer extracts it for `storage.write` and `wal.append`; the
other frames of the batch get no spans. Traced: the SDK tracer at the default sampling (1% of
batches, parent-based) exporting to a file; baseline: the same code with tracing off (the no-op
tracer a default run has). Rounds alternate; the medians' difference per event is the overhead.

    python benchmarks/tracing_cost.py [--batches N] [--rounds N]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path

from opentelemetry.trace import Tracer

from actors.telemetry import (
    NO_TRACER,
    TRACES_FILE_ENV,
    collector_process,
    inject,
    pipeline_enqueue,
    provider_receive,
    setup_tracing,
    storage_write,
    wal_append,
)
from mdc.events import Event, Trade

FRAMES_PER_BATCH = 20
EVENTS_PER_FRAME = 9
"""About what the provider batches at the benchmark's load (177 events per fsync)."""


def _frames() -> list[list[Event]]:
    trade = Trade("binance", "BTC-USDT", 1, 2, Decimal("37000.01"), Decimal("0.5"), "buy", 7)
    return [[trade] * EVENTS_PER_FRAME for _ in range(FRAMES_PER_BATCH)]


def one_batch(tracer: Tracer, frames: Sequence[list[Event]], batch: list[Event]) -> None:
    parent: dict[str, str] = {}
    for index, frame in enumerate(frames):
        frame_tracer = tracer if index == 0 else NO_TRACER
        with (
            provider_receive(frame_tracer, venue="binance", nbytes=200),
            collector_process(frame_tracer, venue="binance", events=frame),
        ):
            if index == 0:
                parent = inject()
    with pipeline_enqueue(tracer, producer="provider:binance", events=batch, carrier=parent):
        carrier = inject()
    with (
        storage_write(tracer, carrier=carrier, producer="provider:binance", events=batch),
        wal_append(tracer, events=batch),
    ):
        pass


def _seconds(tracer: Tracer, batches: int) -> float:
    frames = _frames()
    batch = [event for frame in frames for event in frame]
    started = time.perf_counter()
    for _ in range(batches):
        one_batch(tracer, frames, batch)
    return time.perf_counter() - started


def overhead_us_per_event(batches: int = 3000, rounds: int = 7) -> tuple[float, float]:
    """(traced, off) CPU µs per event of the tracing code path; medians over alternating rounds."""
    with tempfile.TemporaryDirectory() as scratch:
        spans = str(Path(scratch) / "spans.jsonl")
        traced = setup_tracing("bench", environ={TRACES_FILE_ENV: spans})
        events = batches * FRAMES_PER_BATCH * EVENTS_PER_FRAME
        on, off = [], []
        for index in range(rounds):
            pair = [(traced, on), (NO_TRACER, off)]
            for tracer, times in pair if index % 2 == 0 else pair[::-1]:
                times.append(_seconds(tracer, batches) / events * 1e6)
    return statistics.median(on), statistics.median(off)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    on, off = overhead_us_per_event(args.batches, args.rounds)
    print(f"tracing code path: {on:.3f} µs/event traced, {off:.3f} µs/event off")


if __name__ == "__main__":
    main()
