"""Typed DLQ errors, one subtree under CollectorError, so callers and the admin API can map them."""

from __future__ import annotations

from mdc.errors import CollectorError, LocalMisuse


class DLQError(CollectorError):
    """Root of the dead letter queue's own errors."""


class DLQFull(DLQError):
    """Adding would exceed the configured entry or byte bound; nothing was added."""


class DLQLocked(DLQError):
    """Another process has this DLQ open for writing (a running collector?)."""


class UnknownEntry(DLQError):
    def __init__(self, entry_id: int) -> None:
        super().__init__(f"no DLQ entry with id {entry_id}")
        self.entry_id = entry_id


class BadFilter(DLQError):
    """A selection the DLQ cannot apply; `field` names the offending part."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


class CorruptDLQ(DLQError):
    """A record passed its CRC but does not decode: written by another version or damaged."""


class InvalidEntry(LocalMisuse):
    """A caller tried to add an entry with an unknown cause or an empty payload."""
