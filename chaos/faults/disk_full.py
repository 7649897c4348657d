"""Disk full for real: the data directory must be a (tiny) tmpfs, which a ballast file fills until
the kernel answers ENOSPC; heal deletes the ballast. See chaos/faults/mounts.py for mounting it
without leaking. Refuses any other file system, so it can never fill a real disk."""

from __future__ import annotations

import errno
import os

from chaos.faults.base import Applied, BaseFault, FaultContext, FaultSetupError, check_param
from chaos.faults.mounts import filesystem_type

CHUNK = 1 << 20


class DiskFull(BaseFault):
    name = "disk_full"
    kind = "storage"

    def __init__(self, *, leave_bytes: int = 0, ballast_name: str = ".chaos-ballast") -> None:
        super().__init__()
        check_param(leave_bytes >= 0, self.name, "leave_bytes must be >= 0")
        check_param("/" not in ballast_name, self.name, "ballast_name must be a plain file name")
        self.leave_bytes = leave_bytes
        self.ballast_name = ballast_name
        self._ballast: str | None = None

    def _apply(self, ctx: FaultContext) -> Applied:
        data_dir = ctx.require("data_dir", "disk_full fills the data directory's file system")
        fstype = filesystem_type(data_dir)
        if fstype != "tmpfs":
            raise FaultSetupError(
                f"disk_full refuses to fill {data_dir!r} on {fstype or 'unknown'}: mount a tmpfs "
                "over it (chaos.faults.mounts.tmpfs_mounted)"
            )
        self._ballast = os.path.join(data_dir, self.ballast_name)
        written = _fill(self._ballast, _free_bytes(data_dir) - self.leave_bytes)
        return Applied(data_dir, {"ballast_bytes": written, "free_bytes": _free_bytes(data_dir)})

    def _undo(self, ctx: FaultContext) -> None:
        if self._ballast is not None and os.path.exists(self._ballast):
            os.remove(self._ballast)


def _free_bytes(path: str) -> int:
    st = os.statvfs(path)
    return st.f_bavail * st.f_frsize


def _fill(path: str, budget: int) -> int:
    """Write up to `budget` bytes (until ENOSPC when the budget is everything free)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    written = 0
    try:
        while written < budget:
            try:
                written += os.write(fd, bytes(min(CHUNK, budget - written)))
            except OSError as exc:
                if exc.errno != errno.ENOSPC:
                    raise
                break
    finally:
        os.close(fd)
    return written
