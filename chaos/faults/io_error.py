"""I/O errors (EIO by default) on one storage operation of the writer, until healed.

- `seam` (default): through the writer's FaultyFS (`_fail_storage_for_testing`); no root needed.
- `libfiu`: the writer process must run with libfiu preloaded (e.g. Ray runtime_env
  `LD_PRELOAD=/usr/lib/fiu/fiu_posix_preload.so`) and `fiu-ctrl` must be installed
  (apt fiu-utils); the failure point is toggled in the live process, below Python.
"""

from __future__ import annotations

import contextlib
import errno
import shutil
import subprocess

from chaos.faults.base import (
    Applied,
    BaseFault,
    FaultContext,
    FaultSetupError,
    FaultTargetError,
    check_param,
)
from chaos.faults.rayops import actor_pid, call
from chaos.faults.writer_seam import NO_SEAM

FIU_POINTS = {
    "write": "posix/io/rw/write",
    "fsync": "posix/io/sync/fsync",
    "open_append": "posix/io/oc/open",
    "truncate": "posix/io/rw/ftruncate",
    "rename": "posix/io/dir/rename",
    "fsync_dir": "posix/io/sync/fsync",
}
MECHANISMS = ("seam", "libfiu")


class IOFault(BaseFault):
    name = "io_error"
    kind = "storage"

    def __init__(
        self, *, op: str = "fsync", err: int = errno.EIO, mechanism: str = "seam",
        target: str = "writer",
    ) -> None:  # fmt: skip
        super().__init__()
        check_param(op in FIU_POINTS, self.name, f"op must be one of {sorted(FIU_POINTS)}")
        check_param(err in errno.errorcode, self.name, f"unknown errno {err}")
        check_param(mechanism in MECHANISMS, self.name, f"mechanism must be one of {MECHANISMS}")
        self.op, self.err, self.mechanism, self.target = op, err, mechanism, target
        self._hit: tuple[object, int | None] | None = None

    def _apply(self, ctx: FaultContext) -> Applied:
        handle = ctx.actor(self.target)
        detail = {"op": self.op, "errno": errno.errorcode[self.err], "mechanism": self.mechanism}
        if self.mechanism == "seam":
            try:
                call(handle, "_fail_storage_for_testing", self.op, self.err)
            except AttributeError as exc:  # the writer runs the plain RealFS
                raise FaultSetupError(NO_SEAM) from exc
            self._hit = (handle, None)
            return Applied(self.target, detail)
        _require_fiu_ctrl()
        pid = actor_pid(handle)
        _fiu_ctrl(pid, f"enable name={FIU_POINTS[self.op]},failinfo={self.err}")
        self._hit = (handle, pid)
        return Applied(self.target, {**detail, "pid": pid, "point": FIU_POINTS[self.op]})

    def _undo(self, ctx: FaultContext) -> None:
        if self._hit is None:
            return
        handle, pid = self._hit
        if pid is None:
            with contextlib.suppress(FaultTargetError):  # a restarted writer has a clean seam
                call(handle, "_heal_storage_for_testing")
        else:
            _fiu_ctrl(pid, f"disable name={FIU_POINTS[self.op]}")


def _require_fiu_ctrl() -> None:
    if shutil.which("fiu-ctrl") is None:
        raise FaultSetupError("libfiu faults need fiu-ctrl (apt install fiu-utils)")


def _fiu_ctrl(pid: int, command: str) -> None:
    with open(f"/proc/{pid}/maps", encoding="utf-8") as maps:
        if "libfiu" not in maps.read():
            raise FaultSetupError(f"process {pid} was not started with libfiu preloaded")
    done = subprocess.run(
        ["fiu-ctrl", "-c", command, str(pid)], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise FaultSetupError(f"fiu-ctrl {command!r} {pid} failed: {done.stderr.strip()}")
