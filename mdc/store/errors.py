"""Typed store errors. A `StorageError` means nothing of the failed batch was acknowledged: the
caller still holds it and may append it again once the cause is healed."""

from __future__ import annotations

import errno

from mdc.errors import CollectorError


class StorageError(CollectorError):
    """A write or fsync failed; the uncommitted batches were rolled back, none acknowledged."""

    def __init__(self, message: str, failed_tickets: tuple[int, ...] = ()) -> None:
        super().__init__(message)
        self.failed_tickets = failed_tickets


class DiskFull(StorageError):
    """ENOSPC / EDQUOT: free space (or retention) heals it."""


class IOFailure(StorageError):
    """EIO and any other OS error on the write path."""


class StoreLocked(StorageError):
    """Another process holds the store's writer lock."""


class CorruptRecord(CollectorError):
    """A record inside a sealed segment fails its CRC: not a torn tail, real corruption."""


class StoreNotFound(CollectorError):
    """The data directory does not exist or holds no store."""


class StoreEmpty(CollectorError):
    """The store exists but holds no events."""


def storage_error(exc: OSError, what: str, tickets: tuple[int, ...]) -> StorageError:
    """The typed error for an OSError raised while making `tickets` durable."""
    kind = DiskFull if exc.errno in (errno.ENOSPC, errno.EDQUOT) else IOFailure
    name = errno.errorcode.get(exc.errno or 0, str(exc.errno))
    return kind(f"{what} failed ({name}: {exc.strerror or exc}); batch not stored", tickets)
