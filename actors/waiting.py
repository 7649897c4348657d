"""Waiting until a condition holds, within a deadline: the one polling helper of the shells
(chaos checks, benchmarks, tests), and `Versions`, the one long poll on something that changes
(the writer's durable tails, the hubs that follow them). The core never waits: it says what it
needs and returns."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


class WaitTimeout(AssertionError):
    """The condition did not hold in time; the message names what was waited for."""

    def __init__(self, timeout_s: float, what: str) -> None:
        super().__init__(f"timed out after {timeout_s}s waiting for {what}")


async def wait_until(
    predicate: Callable[[], Awaitable[object]], timeout_s: float, what: str, every_s: float = 0.1
) -> float:
    """Poll an async condition every `every_s`; returns the seconds it took (recovery times)."""
    started = time.monotonic()
    while not await predicate():
        if time.monotonic() - started > timeout_s:
            raise WaitTimeout(timeout_s, what)
        await asyncio.sleep(every_s)
    return time.monotonic() - started


def wait_until_sync(check: Callable[[], T], timeout_s: float, what: str, every_s: float = 0.1) -> T:
    """Poll a blocking condition (a subprocess's HTTP server...); returns its truthy result."""
    deadline = time.monotonic() + timeout_s
    pause = threading.Event()  # never set: its wait() is an interruptible, bounded pause
    while not (result := check()):
        if time.monotonic() > deadline:
            raise WaitTimeout(timeout_s, what)
        pause.wait(every_s)
    return result


class Versions:
    """A version number that moves on, and long polls on it: `past(seen, timeout_s)` returns as
    soon as the version is no longer `seen` (or after `timeout_s`). The event waiters wait on is
    made when first awaited, on the loop that awaits it."""

    def __init__(self, version: int = 0) -> None:
        self.version = version
        self._moved: asyncio.Event | None = None

    def move(self, version: int | None = None) -> None:
        """A new version (the next one, unless given); wakes whoever waits past the old one."""
        self.version = self.version + 1 if version is None else version
        if self._moved is not None:
            self._moved.set()
            self._moved = None

    async def past(self, seen: int, timeout_s: float) -> int:
        if self.version == seen:
            if self._moved is None:
                self._moved = asyncio.Event()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._moved.wait(), timeout_s)
        return self.version
