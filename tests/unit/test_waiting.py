"""The one polling helper: returns once the condition holds, names what it waited for if not."""

from __future__ import annotations

import asyncio
import itertools

import pytest

from actors.waiting import WaitTimeout, wait_until, wait_until_sync


def test_wait_until_returns_once_the_condition_holds():
    calls = itertools.count()

    async def third_time() -> bool:
        return next(calls) >= 2

    took = asyncio.run(wait_until(third_time, 5.0, "the third call", every_s=0.001))
    assert next(calls) == 3 and 0 <= took < 5.0


def test_wait_until_names_what_did_not_happen():
    async def never() -> bool:
        return False

    with pytest.raises(WaitTimeout, match=r"timed out after 0.01s waiting for the moon"):
        asyncio.run(wait_until(never, 0.01, "the moon", every_s=0.001))


def test_wait_until_sync_returns_the_truthy_result():
    answers = iter([None, 0, {"ok": 1}])
    assert wait_until_sync(lambda: next(answers), 5.0, "an answer", every_s=0.001) == {"ok": 1}
    with pytest.raises(AssertionError, match="waiting for nothing"):
        wait_until_sync(lambda: None, 0.01, "nothing", every_s=0.001)
