"""Event store: durable WAL (write side) and projections, SQL and book-at-time queries (read side).

Exports are loaded lazily so that importing a light submodule (the CLI's argument helpers) does
not pull in DuckDB and Arrow.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "AppendResult": "mdc.store.store",
    "CommitPolicy": "mdc.store.store",
    "Store": "mdc.store.store",
    "DiskFull": "mdc.store.errors",
    "IOFailure": "mdc.store.errors",
    "StorageError": "mdc.store.errors",
    "StoreLocked": "mdc.store.errors",
    "UnstorableEvent": "mdc.store.errors",
    "FaultyFS": "mdc.store.fs",
    "FileSystem": "mdc.store.fs",
    "RealFS": "mdc.store.fs",
    "EncodedBatch": "mdc.store.encoded",
    "encode_batch": "mdc.store.encoded",
    "RecoveryReport": "mdc.store.wal",
    "Ticket": "mdc.store.wal",
    "Consumer": "mdc.store.replay",
    "BadPosition": "mdc.store.follow",
    "FollowBatch": "mdc.store.follow",
    "Follower": "mdc.store.follow",
    "FollowerState": "mdc.store.follow",
    "Position": "mdc.store.follow",
    "BookAt": "mdc.store.checkpoints",
    "QueryResult": "mdc.store.query",
}
__all__ = list(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'mdc.store' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
