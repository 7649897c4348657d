"""Storage faults for real: a tmpfs mounted over a temporary data directory (root, unmounted in
every case) is filled by disk_full until writes fail with ENOSPC; after heal they succeed."""

import errno
import os
import random
import subprocess
import sys

import pytest

from chaos.faults.base import FaultContext
from chaos.faults.disk_full import DiskFull
from chaos.faults.mounts import filesystem_type, private_argv, tmpfs_mounted
from mdc.store.fs import RealFS

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="mounting a tmpfs needs root")
SIZE = 256 * 1024


@pytest.fixture
def tmpfs_dir(tmp_path):
    data = tmp_path / "data"
    with tmpfs_mounted(str(data), SIZE):
        yield str(data)
    assert filesystem_type(str(data)) != "tmpfs", "the tmpfs must be unmounted after the test"


def _append(path: str, data: bytes) -> None:
    """Through the store's own file seam, which loops over short writes as the WAL does."""
    fs = RealFS()
    fd = fs.open_append(path)
    try:
        fs.write(fd, data)
        fs.fsync(fd)
    finally:
        fs.close(fd)


def test_disk_full_makes_writes_fail_with_enospc_until_healed(tmpfs_dir):
    assert filesystem_type(tmpfs_dir) == "tmpfs"
    log = os.path.join(tmpfs_dir, "wal.log")
    _append(log, b"before" * 100)
    ctx = FaultContext(rng=random.Random(3), data_dir=tmpfs_dir)
    fault = DiskFull()

    record = fault.inject(ctx)
    assert record.target == tmpfs_dir and record.healed_at_ns is None
    assert SIZE - 2 * 4096 <= record.detail["ballast_bytes"] < SIZE
    assert record.detail["free_bytes"] == 0
    with pytest.raises(OSError) as failed:
        _append(log, b"x" * 8192)
    assert failed.value.errno == errno.ENOSPC == 28

    fault.heal(ctx)
    fault.heal(ctx)  # idempotent
    assert record.healed_at_ns >= record.injected_at_ns
    _append(log, b"after" * 1000)
    assert os.listdir(tmpfs_dir) == ["wal.log"]


def test_leave_bytes_keeps_room_for_small_writes_only(tmpfs_dir):
    ctx = FaultContext(rng=random.Random(3), data_dir=tmpfs_dir)
    fault = DiskFull(leave_bytes=16 * 1024)
    fault.inject(ctx)
    try:
        _append(os.path.join(tmpfs_dir, "small"), b"s" * 4096)
        with pytest.raises(OSError) as failed:
            _append(os.path.join(tmpfs_dir, "big"), b"b" * 64 * 1024)
        assert failed.value.errno == errno.ENOSPC
    finally:
        fault.heal(ctx)


def test_mounts_made_in_the_private_namespace_do_not_reach_the_host(tmp_path):
    target = tmp_path / "inside"
    target.mkdir()
    probe = (
        "import subprocess\nfrom chaos.faults.mounts import filesystem_type\n"
        f"subprocess.run(['mount','-t','tmpfs','-o','size=64k','tmpfs','{target}'],check=True)\n"
        f"print(filesystem_type('{target}'))"
    )
    done = subprocess.run(
        private_argv([sys.executable, "-c", probe]),
        capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["tmpfs"]
    assert filesystem_type(str(target)) != "tmpfs", "the mount leaked to the host"
