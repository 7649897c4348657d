"""Typed store errors. A `StorageError` means nothing of the failed batch was acknowledged: the
caller still holds it and may append it again once the cause is healed. The one exception is
`UnstorableEvent`: the rest of the batch was stored, and only the events it names were refused."""

from __future__ import annotations

import errno
from dataclasses import dataclass

from mdc.errors import CollectorError
from mdc.events import Event, identity


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


@dataclass(frozen=True, slots=True)
class Refusal:
    """One event the store cannot hold, and why."""

    event: Event
    reason: str

    def __str__(self) -> str:
        return f"{identity(self.event).decode(errors='replace')}: {self.reason}"


class UnstorableEvent(StorageError):
    """Events no retry can store (an id beyond 64 bits, say): only they were refused, the rest of
    their batch was stored (`stored`, `duplicates`). They belong in the dead letter queue."""

    def __init__(self, refused: tuple[Refusal, ...], stored: int = 0, duplicates: int = 0) -> None:
        shown = "; ".join(map(str, refused[:3])) + ("; ..." if len(refused) > 3 else "")
        super().__init__(f"{len(refused)} event(s) cannot be stored ({shown})")
        self.refused = refused
        self.stored = stored
        self.duplicates = duplicates

    @property
    def events(self) -> list[Event]:
        return [r.event for r in self.refused]


class StoreNotFound(CollectorError):
    """The data directory does not exist or holds no store."""


class StoreEmpty(CollectorError):
    """The store exists but holds no events."""


def storage_error(exc: OSError, what: str, tickets: tuple[int, ...]) -> StorageError:
    """The typed error for an OSError raised while making `tickets` durable."""
    kind = DiskFull if exc.errno in (errno.ENOSPC, errno.EDQUOT) else IOFailure
    name = errno.errorcode.get(exc.errno or 0, str(exc.errno))
    return kind(f"{what} failed ({name}: {exc.strerror or exc}); batch not stored", tickets)
