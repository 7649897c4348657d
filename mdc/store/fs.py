"""The one file-system seam of the store: every write-side call goes through a `FileSystem`.

`RealFS` does the plain POSIX calls (looping over short writes). `FaultyFS` wraps it for tests and
chaos runs: an operation can be made to fail with an errno (ENOSPC, EIO, ...) a number of times or
until `heal()`, a write can be cut short before failing (a torn write), and fsync can be made slow.
Faults are injected at the seam, so they cannot catch bugs below it; the chaos suite adds real
disk-full and I/O-error injection (tmpfs, libfiu) on top.
"""

from __future__ import annotations

import errno
import fcntl
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import BinaryIO, Protocol


@dataclass(frozen=True, slots=True)
class DiskUsage:
    total_bytes: int
    free_bytes: int


class FileSystem(Protocol):
    """File operations the store needs; `fd`s are plain ints from `open_append`."""

    def open_append(self, path: str) -> int: ...
    def write(self, fd: int, data: bytes) -> None: ...
    def fsync(self, fd: int) -> None: ...
    def truncate(self, fd: int, size: int) -> None: ...
    def close(self, fd: int) -> None: ...
    def fsync_dir(self, path: str) -> None: ...
    def rename(self, src: str, dst: str) -> None: ...
    def remove(self, path: str) -> None: ...
    def listdir(self, path: str) -> list[str]: ...
    def makedirs(self, path: str) -> None: ...
    def open_read(self, path: str) -> BinaryIO: ...
    def size(self, path: str) -> int: ...
    def mtime_ns(self, path: str) -> int: ...
    def statvfs(self, path: str) -> DiskUsage: ...
    def lock(self, path: str) -> int: ...


class RealFS:
    """The operating system's file system, unbuffered, so a returned write is in the page cache."""

    def open_append(self, path: str) -> int:
        return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)

    def write(self, fd: int, data: bytes) -> None:
        view = memoryview(data)
        while view:
            written = os.write(fd, view)
            view = view[written:]

    def fsync(self, fd: int) -> None:
        os.fsync(fd)

    def truncate(self, fd: int, size: int) -> None:
        os.ftruncate(fd, size)

    def close(self, fd: int) -> None:
        os.close(fd)

    def fsync_dir(self, path: str) -> None:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def rename(self, src: str, dst: str) -> None:
        os.replace(src, dst)

    def remove(self, path: str) -> None:
        os.remove(path)

    def listdir(self, path: str) -> list[str]:
        return sorted(os.listdir(path)) if os.path.isdir(path) else []

    def makedirs(self, path: str) -> None:
        os.makedirs(path, exist_ok=True)

    def open_read(self, path: str) -> BinaryIO:
        return open(path, "rb")

    def size(self, path: str) -> int:
        return os.stat(path).st_size

    def mtime_ns(self, path: str) -> int:
        return os.stat(path).st_mtime_ns

    def statvfs(self, path: str) -> DiskUsage:
        st = os.statvfs(path)
        return DiskUsage(st.f_blocks * st.f_frsize, st.f_bavail * st.f_frsize)

    def lock(self, path: str) -> int:
        """An exclusive, non-blocking advisory lock, held until the fd is closed."""
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            raise
        return fd


@dataclass(slots=True)
class _Fault:
    err: int
    remaining: int | None  # None: until healed
    torn_bytes: int  # for writes: bytes that reach the file before the error


class FaultyFS(RealFS):
    """RealFS with injectable faults on `write`, `fsync`, `truncate`, `open_append`, `fsync_dir`,
    `rename`; `sleep` is called with `fsync_delay_s` before every fsync (slow disk)."""

    def __init__(self, sleep: Callable[[float], None] | None = None) -> None:
        self._faults: dict[str, _Fault] = {}
        self.fsync_delay_s = 0.0
        self._sleep = sleep
        self.calls: dict[str, int] = {}
        self.on_fsync: Callable[[], None] | None = None

    def fail(self, op: str, err: int = errno.EIO, *, times: int | None = None, torn_bytes: int = 0):
        """Make `op` raise OSError(err) the next `times` calls (None: until `heal()`)."""
        self._faults[op] = _Fault(err, times, torn_bytes)

    def slow_fsync(self, delay_s: float) -> None:
        self.fsync_delay_s = delay_s

    def heal(self) -> None:
        self._faults.clear()
        self.fsync_delay_s = 0.0

    def _check(self, op: str) -> _Fault | None:
        self.calls[op] = self.calls.get(op, 0) + 1
        fault = self._faults.get(op)
        if fault is None:
            return None
        if fault.remaining is not None:
            fault.remaining -= 1
            if fault.remaining <= 0:
                del self._faults[op]
        return fault

    @staticmethod
    def _raise(fault: _Fault, op: str) -> None:
        raise OSError(fault.err, f"injected {errno.errorcode.get(fault.err, fault.err)} in {op}")

    def write(self, fd: int, data: bytes) -> None:
        fault = self._check("write")
        if fault is not None:
            super().write(fd, data[: fault.torn_bytes])
            self._raise(fault, "write")
        super().write(fd, data)

    def fsync(self, fd: int) -> None:
        if self.fsync_delay_s and self._sleep is not None:
            self._sleep(self.fsync_delay_s)
        if self.on_fsync is not None:
            self.on_fsync()
        fault = self._check("fsync")
        if fault is not None:
            self._raise(fault, "fsync")
        super().fsync(fd)

    def _guarded(self, op: str) -> None:
        fault = self._check(op)
        if fault is not None:
            self._raise(fault, op)

    def truncate(self, fd: int, size: int) -> None:
        self._guarded("truncate")
        super().truncate(fd, size)

    def open_append(self, path: str) -> int:
        self._guarded("open_append")
        return super().open_append(path)

    def fsync_dir(self, path: str) -> None:
        self._guarded("fsync_dir")
        super().fsync_dir(path)

    def rename(self, src: str, dst: str) -> None:
        self._guarded("rename")
        super().rename(src, dst)
