"""StorageWriterActor: the event store's write side as an actor; acknowledges after fsync."""

from __future__ import annotations

import os
import time

import ray

from mdc.batching import EventBatch
from mdc.events import Trade
from mdc.store import Store


@ray.remote(num_cpus=0, max_restarts=0, concurrency_groups={"io": 1, "health": 1})
class StorageWriterActor:
    """Appends are idempotent (the store deduplicates by identity), so a producer may resend any
    batch it holds after a restart without storing anything twice.

    The store is used from one thread (the "io" group); pings run in their own thread, so a burst
    of appends (producers resending after a restart) does not look like a hang."""

    def __init__(self, data_dir: str) -> None:
        self.store = Store.open(data_dir)
        self.stats = {"batches": 0, "events": 0, "stored": 0, "duplicates": 0, "started_ns": 0}
        self.stats["started_ns"] = time.time_ns()

    @ray.method(concurrency_group="io")
    def append(self, batch: EventBatch) -> tuple[str, int, int, int]:
        result = self.store.append(batch.events)
        self.stats["batches"] += 1
        self.stats["events"] += len(batch.events)
        self.stats["stored"] += result.stored
        self.stats["duplicates"] += result.duplicates
        return batch.producer, batch.seq, result.stored, result.duplicates

    @ray.method(concurrency_group="io")
    def last_trades(self, venue: str) -> dict[str, tuple[int, int]]:
        """The newest durable trade id and venue time per symbol, to resume continuity after a
        provider restart."""
        last: dict[str, tuple[int, int]] = {}
        for event in self.store.iter_events(venue=venue, types=["trade"]):
            if isinstance(event, Trade) and not event.aggregate:
                known = last.get(event.symbol)
                if known is None or (event.trade_id or 0, event.ts_event) > known:
                    last[event.symbol] = (event.trade_id or 0, event.ts_event)
        return last

    @ray.method(concurrency_group="health")
    def ping(self) -> dict:
        return dict(self.stats)

    @ray.method(concurrency_group="health")
    def pid(self) -> int:
        return os.getpid()

    @ray.method(concurrency_group="io")
    def close(self) -> None:
        self.store.close()
