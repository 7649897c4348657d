"""The data volume fails under live ingest: I/O errors, a slow fsync, a writer killed in the
middle of an append, and (given a private mount namespace) a real full disk. Nothing
acknowledged may be lost; events that could not be written go to the DLQ and come back."""

from __future__ import annotations

import random

from chaos.scenarios.base import Fault, Scenario, Step, each_once

FAULTS: tuple[Fault, ...] = (
    ("io_error", {"op": "fsync"}, 2.0),
    ("slow_fsync", {"delay_s": 0.2}, 2.0),
    ("crash_mid_write", {}, 0.0),
    ("disk_full", {}, 2.0),
)


def plan(rng: random.Random, duration_s: float) -> list[Step]:
    return each_once(rng, duration_s, FAULTS)


SCENARIO = Scenario(
    "storage_failure",
    "EIO on fsync, slow fsync, writer killed mid-append, disk full on a tiny tmpfs",
    plan,
    venues=("binance", "kraken"),
    writer_faults=True,
    private_mounts=True,
    min_duration_s=16.0,
)
