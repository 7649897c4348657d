"""Bounded duplicate detection per stream, the same before and after a restart.

Guarantee: an event is not stored again if its `identity()` equals that of one of the last
`window` records of its stream (durable, or earlier in the same uncommitted group). The window is
rebuilt on open from the tail of the stream's log, so the guarantee does not depend on restarts.
Older duplicates are stored again (a duplicate can be removed later; a wrongly dropped event -
a late backfilled trade, say - could not be recovered), and readers may still collapse them by
identity. Memory: one 64-bit hash per remembered record (about 100 bytes with Python overhead).
"""

from __future__ import annotations

from collections import deque


def digest(identity: bytes) -> int:
    """64-bit hash of an identity. Python's (salted, per process) hash is fine: the window is
    rebuilt on every open. A new event is taken for a duplicate by mistake with probability
    window / 2**64 (5e-15 for a 100k window)."""
    return hash(identity)


class DedupWindow:
    """Digests of the last `size` identities; pending ones are rolled back if their commit fails."""

    __slots__ = ("_order", "_pending", "_seen", "size")

    def __init__(self, size: int) -> None:
        self.size = size
        self._order: deque[int] = deque()
        self._seen: dict[int, int] = {}  # digest -> count in the window (digests may repeat)
        self._pending: list[int] = []

    def __contains__(self, key: int) -> bool:
        return key in self._seen

    def add_pending(self, key: int) -> None:
        self._pending.append(key)
        self._seen[key] = self._seen.get(key, 0) + 1

    def commit(self) -> None:
        for key in self._pending:
            self._order.append(key)
        self._pending.clear()
        while len(self._order) > self.size:
            self._forget(self._order.popleft())

    def rollback(self) -> None:
        for key in self._pending:
            self._forget(key)
        self._pending.clear()

    def _forget(self, key: int) -> None:
        count = self._seen[key] - 1
        if count:
            self._seen[key] = count
        else:
            del self._seen[key]
