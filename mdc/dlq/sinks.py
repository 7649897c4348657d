"""Replay targets: the event store at a data directory, opened for the duration of one replay."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from mdc.dlq.queue import Sink
from mdc.store.fs import FileSystem


@contextmanager
def store_sink(data_dir: str, fs: FileSystem | None = None) -> Iterator[Sink]:
    """`Store.append` of the store at `data_dir`: durable (fsynced) on return, deduplicated.
    Raises StoreLocked when a running collector owns the store."""
    from mdc.store.store import Store  # noqa: PLC0415 - DuckDB/Arrow only when replaying

    with Store.open(data_dir, fs=fs) as store:
        yield store.append
