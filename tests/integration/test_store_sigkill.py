"""SIGKILL a real writer process at random (seeded) instants, many times: after every recovery each
acknowledged event is present exactly once and no partial record is readable."""

from __future__ import annotations

import os
import random
import select
import signal
import subprocess
import sys
import time
from collections import Counter

import pytest

from mdc.events import Trade, identity
from mdc.store import Store

WRITER = r"""
import random, sys
from mdc.store import Store
from mdc.store.synth import trades
data_dir, seed, next_id = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rng = random.Random(seed)
store = Store.open(data_dir, segment_bytes=256 * 1024, dedup_window=5000)
print("ready", flush=True)
while True:
    n = rng.randint(1, 8)
    batch = trades(rng, n, first_id=next_id) + trades(rng, n, symbol="ETH-USDT", first_id=next_id)
    store.append(batch)
    print(next_id, next_id + n - 1, flush=True)
    next_id += n
"""

RUNS = 50
BUDGET_S = 60.0


def _read_line(proc: subprocess.Popen, timeout_s: float) -> str:
    ready, _, _ = select.select([proc.stdout], [], [], timeout_s)
    if not ready:
        raise TimeoutError("writer produced no output in time")
    return proc.stdout.readline()  # type: ignore[union-attr]


def _acked_ids(lines: str) -> list[int]:
    ids = []
    for line in lines.splitlines():
        low, _, high = line.partition(" ")
        if high:
            ids.extend(range(int(low), int(high) + 1))
    return ids


@pytest.mark.slow
def test_sigkill_at_random_instants_loses_no_ack_and_doubles_nothing(tmp_path):
    rng = random.Random(20261125)
    data_dir = str(tmp_path / "data")
    env = dict(os.environ, PYTHONPATH=os.getcwd() + os.pathsep + os.environ.get("PYTHONPATH", ""))
    acked: set[int] = set()
    next_id, started, runs, torn = 1, time.monotonic(), 0, 0
    while runs < RUNS and time.monotonic() - started < BUDGET_S:
        # Resume from the last *acknowledged* id: unacknowledged records that did reach the disk
        # are sent again, as a producer would, and must collapse by dedup.
        proc = subprocess.Popen(
            [sys.executable, "-c", WRITER, data_dir, str(rng.getrandbits(32)), str(next_id)],
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        assert _read_line(proc, 10.0).strip() == "ready"
        deadline = time.monotonic() + rng.uniform(0.0, 0.15)
        lines = []
        while time.monotonic() < deadline:
            ready, _, _ = select.select(
                [proc.stdout], [], [], max(0.0, deadline - time.monotonic())
            )
            if ready:
                lines.append(proc.stdout.readline())  # type: ignore[union-attr]
        proc.send_signal(signal.SIGKILL)
        rest, _ = proc.communicate(timeout=10)
        assert proc.returncode == -signal.SIGKILL
        acked.update(_acked_ids("".join(lines) + rest))
        next_id = max(acked, default=0) + 1
        runs += 1
        with Store.open(data_dir, readonly=True) as store:
            torn += bool(store.recovery.truncations)
            events = list(store.iter_events())
        assert all(isinstance(e, Trade) for e in events)
        counts = Counter(map(identity, events))
        assert max(counts.values(), default=1) == 1, "an event is stored twice"
        stored = {(e.symbol, e.trade_id) for e in events}
        missing = [i for i in acked for sym in ("BTC-USDT", "ETH-USDT") if (sym, i) not in stored]
        assert not missing, f"acknowledged events lost after run {runs}: {missing[:5]}"
    assert runs >= RUNS, f"only {runs} kills fitted in {BUDGET_S}s"
    assert len(acked) > RUNS
