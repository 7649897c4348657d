"""The DLQ's durable log: one append-only file of `[len][CRC32C][payload]` records (the WAL's
framing, `mdc.store.records`), written through the store's file-system seam.

Same rules as the WAL: an append returns only after fsync; on any OSError the file is truncated
back to its last durable size and a `DiskFull`/`IOFailure` is raised, so nothing half-written
stays; a torn or corrupt tail is truncated on open. Compaction writes a new file, fsyncs it and
renames it over the old one (then fsyncs the directory), so a crash leaves one or the other.
"""

from __future__ import annotations

import os

from mdc.dlq.errors import DLQLocked
from mdc.store import records
from mdc.store.errors import storage_error
from mdc.store.fs import FileSystem

LOG_NAME = "dlq.log"
TMP_NAME = "dlq.log.tmp"


class Journal:
    def __init__(self, root: str, fs: FileSystem, lock_fd: int) -> None:
        self.root = root
        self.fs = fs
        self.path = os.path.join(root, LOG_NAME)
        self.size = 0
        self.truncated_bytes = 0
        self._lock_fd = lock_fd
        self._fd: int | None = None
        self._broken = False

    @classmethod
    def open(cls, root: str, fs: FileSystem) -> tuple[Journal, list[bytes]]:
        """Lock, recover (truncate a bad tail) and return the journal and its record payloads."""
        fs.makedirs(root)
        try:
            lock_fd = fs.lock(os.path.join(root, "LOCK"))
        except BlockingIOError as exc:
            raise DLQLocked(f"{root} is open by another process (a running collector?)") from exc
        journal = cls(root, fs, lock_fd)
        tmp = os.path.join(root, TMP_NAME)
        if os.path.exists(tmp):
            fs.remove(tmp)
        return journal, journal._recover()

    def _recover(self) -> list[bytes]:
        if not os.path.exists(self.path):
            return []
        end = records.ScanEnd()
        with self.fs.open_read(self.path) as f:
            payloads = list(records.scan(f, end))
            file_size = f.seek(0, os.SEEK_END)
        self.size = end.offset
        if file_size != end.offset:
            self.truncated_bytes = file_size - end.offset
            self._fd = self.fs.open_append(self.path)
            self.fs.truncate(self._fd, end.offset)
            self.fs.fsync(self._fd)
        return payloads

    def append(self, payloads: list[bytes]) -> None:
        """Durable on return; on failure nothing of `payloads` stays and StorageError is raised."""
        data = b"".join(map(records.encode, payloads))
        try:
            if self._fd is None:
                self._fd = self.fs.open_append(self.path)
                self.fs.fsync_dir(self.root)
                self.fs.fsync_dir(os.path.dirname(self.root))
            if self._broken:
                self._cut()
            self.fs.write(self._fd, data)
            self.fs.fsync(self._fd)
        except OSError as exc:
            self._rollback()
            raise storage_error(exc, "DLQ append", ()) from exc
        self.size += len(data)

    def _cut(self) -> None:
        self.fs.truncate(self._fd, self.size)  # type: ignore[arg-type]
        self._broken = False

    def _rollback(self) -> None:
        if self._fd is None:
            return
        try:
            self._cut()
        except OSError:
            self._broken = True

    def rewrite(self, payloads: list[bytes]) -> None:
        """Replace the log by exactly `payloads` (compaction), atomically."""
        tmp = os.path.join(self.root, TMP_NAME)
        data = b"".join(map(records.encode, payloads))
        fd = self.fs.open_append(tmp)
        try:
            self.fs.truncate(fd, 0)
            self.fs.write(fd, data)
            self.fs.fsync(fd)
        except OSError as exc:
            self.fs.close(fd)
            self.fs.remove(tmp)
            raise storage_error(exc, "DLQ compaction", ()) from exc
        self.fs.close(fd)
        try:
            self.fs.rename(tmp, self.path)
        except OSError as exc:
            raise storage_error(exc, "DLQ compaction", ()) from exc
        self._close_log()
        self.size, self._broken = len(data), False
        try:
            self.fs.fsync_dir(self.root)
        except OSError as exc:
            raise storage_error(exc, "DLQ compaction", ()) from exc

    def _close_log(self) -> None:
        if self._fd is not None:
            self.fs.close(self._fd)
            self._fd = None

    def close(self) -> None:
        self._close_log()
        if self._lock_fd is not None:
            self.fs.close(self._lock_fd)
            self._lock_fd = None  # type: ignore[assignment]
