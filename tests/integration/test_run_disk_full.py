"""`mdc run` on a full disk, for real: the data dir is a small tmpfs and its wal/ another one, and
disk_full's ballast fills them while the collector runs (root; both unmounted in every case).

Only the store may refuse data on ENOSPC. With wal/ full, batches go to the dead letter queue,
and the console line, a gauge and /readyz (503) say why the store refuses writes; with the data
dir full as well, the status file costs one warning, not the run. Once the store takes writes
again /readyz is 200 again. A stop drains (exit 0) even while wal/ is full, and once that space
is freed and the dead letters are replayed, `mdc verify` passes."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import re
import signal
import subprocess
import sys
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import aiohttp
import pytest

from actors.panel import STATUS_FILE
from chaos.faults.base import FaultContext
from chaos.faults.disk_full import DiskFull
from chaos.faults.mounts import tmpfs_mounted
from chaos.harness import wait_until

pytestmark = [
    pytest.mark.ray,
    pytest.mark.skipif(os.geteuid() != 0, reason="mounting a tmpfs needs root"),
]
MDC = str(Path(sys.executable).with_name("mdc"))
DATA_BYTES = 8 << 20
WAL_BYTES = 4 << 20
ENOSPC = "[Errno 28] No space left on device"
REFUSING = f"store refusing writes: {ENOSPC}"
STATUS_WARNING = "mdc run: warning: cannot write the status file"
GAUGE = f'mdc_store_refusing_writes{{reason="{ENOSPC}"}}'


class Run:
    """`mdc run` in the background, its output in files read while it runs."""

    def __init__(self, data: Path, logs: Path) -> None:
        self.out, self.err = logs / "stdout", logs / "stderr"
        argv = [MDC, "run", "--duration", "100", "--no-api", "--no-grpc", "--data-dir", str(data)]
        argv += ["--venues", "binance", "--metrics-port", "0"]
        with self.out.open("w") as out, self.err.open("w") as err:
            self.proc = subprocess.Popen(argv, stdout=out, stderr=err)
        self.base = ""

    def stderr(self) -> str:
        return self.err.read_text()

    async def probe(self, path: str) -> tuple[int, str]:
        if not self.base:
            found = re.search(r"metrics on (http://\S+)/metrics", self.stderr())
            if not found:
                return 0, "metrics server not up yet"
            self.base = found[1]
        try:
            async with aiohttp.ClientSession() as http, http.get(self.base + path) as response:
                return response.status, await response.text()
        except aiohttp.ClientError as exc:
            return 0, str(exc)

    def answers(self, path: str, status: int, needle: str = "") -> Callable[[], Awaitable[bool]]:
        async def check() -> bool:
            assert self.proc.poll() is None, self.stderr()[-3000:]
            got, body = await self.probe(path)
            return got == status and needle in body

        return check


@contextlib.contextmanager
def full(path: Path) -> Iterator[None]:
    """The tmpfs at `path` has no byte free inside the block."""
    ctx = FaultContext(rng=random.Random(1), data_dir=str(path))
    fault = DiskFull()
    fault.inject(ctx)
    try:
        yield
    finally:
        fault.heal(ctx)


@pytest.fixture
def data(tmp_path):
    data = tmp_path / "data"
    with tmpfs_mounted(str(data), DATA_BYTES), tmpfs_mounted(str(data / "wal"), WAL_BYTES):
        yield data


def mdc(*argv: str) -> subprocess.CompletedProcess:
    return subprocess.run([MDC, *argv], capture_output=True, text=True, timeout=60, check=False)


async def _refuse_then_recover(run: Run, data: Path) -> None:
    await wait_until(run.answers("/readyz", 200), 60, "the collector ready")
    with full(data / "wal"):
        await wait_until(run.answers("/readyz", 503, REFUSING), 20, "/readyz: 503, refusing")
        await wait_until(run.answers("/metrics", 200, f"{GAUGE} 1.0"), 5, "the gauge set")
        await wait_until(_says(run.out, REFUSING), 10, "the console saying why")
        with full(data):  # the status file cannot be written either: one warning
            await wait_until(_says(run.err, STATUS_WARNING), 10, "the status file warning")
        await wait_until(_dead_letters(data), 15, "batches in the dead letter queue")
    await wait_until(run.answers("/readyz", 200), 20, "/readyz: 200 once the store takes writes")
    await wait_until(run.answers("/metrics", 200, f"{GAUGE} 0.0"), 5, "the gauge cleared")


def _says(output: Path, needle: str) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        return needle in output.read_text()

    return check


def _dead_letters(data: Path) -> Callable[[], Awaitable[bool]]:
    """Read from the status file, which the collector writes again once it has room."""

    async def check() -> bool:
        with contextlib.suppress(OSError, ValueError, KeyError):
            status = json.loads((data / STATUS_FILE).read_text())
            return status["rows"]["writer"]["dead_lettered"] > 0
        return False

    return check


def test_a_full_disk_is_reported_and_survived_and_nothing_is_lost(data, tmp_path):
    run = Run(data, tmp_path)
    try:
        asyncio.run(_refuse_then_recover(run, data))
        with full(data / "wal"):  # stopped while the store refuses: all goes to the DLQ
            asyncio.run(wait_until(run.answers("/readyz", 503, REFUSING), 20, "refusing again"))
            run.proc.send_signal(signal.SIGTERM)
            assert run.proc.wait(timeout=60) == 0, run.stderr()[-3000:]
    finally:
        if run.proc.poll() is None:
            run.proc.kill()
            run.proc.wait()
    assert run.stderr().count(STATUS_WARNING) == 1
    replayed = mdc("dlq", "replay", "--all", "--data-dir", str(data))
    assert replayed.returncode == 0, replayed.stdout + replayed.stderr
    verified = mdc("verify", "--data-dir", str(data))
    assert verified.returncode == 0, verified.stdout[-3000:] + verified.stderr
