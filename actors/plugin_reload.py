"""Hot reload of venue plugins, the driver's side: the check of an installed version in a fresh
process, and the loop that answers reload requests (`mdc.plugin_reloads`) with the supervisor.

Python imports a module once per process and `importlib.reload` leaves old classes, submodules
and references behind (specs/plugins.md), so the driver never re-imports a plugin: it runs
`python -m actors.plugin_reload VENUE SYMBOL...` to load the version installed now, through the
entry point, check it against the contract and build its book sync for every symbol; only if that
succeeds does the supervisor replace the provider actor, whose new worker process imports the
new code. A failure anywhere before that leaves the running provider as it was.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from actors.waiting import WaitTimeout, wait_until
from mdc.errors import CollectorError
from mdc.plugin_reloads import ReloadAnswer, ReloadInbox
from mdc.venues.registry import installed_version

if TYPE_CHECKING:
    from actors.supervisor import Supervisor

CHECK_TIMEOUT_S = 60.0
POLL_S = 0.5
log = logging.getLogger(__name__)
PluginCheck = Callable[[str], Awaitable[str]]
"""Loads and validates a venue's installed plugin in a fresh process; returns its version text
("mdc-example-venue 2.0.0"), or raises PluginRefused saying why it cannot run."""


class PluginRefused(CollectorError):
    """A reload that did not happen (or whose new version failed to start): why, in one line."""


@dataclass(frozen=True)
class Reloaded:
    venue: str
    old: str
    new: str
    drained: bool
    """Whether the old provider had every batch it sent acknowledged before it stopped."""


class NoAnswer(CollectorError):
    """No collector answered a reload request in time; `withdrawn`: it was taken back unread
    (False: a collector took it and is carrying it out still)."""

    def __init__(self, venue: str, timeout_s: float, withdrawn: bool) -> None:
        then = "the request is withdrawn" if withdrawn else "it is carrying it out still"
        super().__init__(f"no answer to reloading {venue} within {timeout_s:.0f}s; {then}")
        self.withdrawn = withdrawn


async def reload_and_wait(inbox: ReloadInbox, venue: str, timeout_s: float) -> ReloadAnswer:
    """Asks the collector to reload `venue` and returns its answer, for the CLI and the admin
    API alike; NoAnswer after `timeout_s`, the request withdrawn if nobody took it, so a
    collector started later does not carry out a request its asker gave up on."""
    request = inbox.submit(venue, time.time_ns())
    found: list[ReloadAnswer] = []

    async def answered() -> bool:
        answer = inbox.answer_to(request)
        if answer is not None:
            found.append(answer)
        return answer is not None

    try:
        await wait_until(answered, timeout_s, f"the collector's answer to reloading {venue}", 0.2)
    except WaitTimeout:
        raise NoAnswer(venue, timeout_s, inbox.withdraw(request)) from None
    return found[0]


def installed_check(symbols_of: dict[str, Sequence[str]]) -> PluginCheck:
    """A PluginCheck for the venues collected here (their symbols get a book sync each)."""

    async def check(venue: str) -> str:
        argv = [sys.executable, "-m", "actors.plugin_reload", venue, *symbols_of.get(venue, ())]
        proc = await asyncio.create_subprocess_exec(
            *argv, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
        )
        try:
            out, err = await asyncio.wait_for(proc.communicate(), CHECK_TIMEOUT_S)
        except TimeoutError:
            proc.kill()
            await proc.wait()
            raise PluginRefused(
                f"{venue}: loading the installed plugin took over {CHECK_TIMEOUT_S:.0f}s"
            ) from None
        if proc.returncode != 0:
            lines = (err or out).decode(errors="replace").strip().splitlines()
            raise PluginRefused(lines[-1] if lines else f"{venue}: check exited {proc.returncode}")
        return json.loads(out)["version"]

    return check


def check_installed(venue: str, symbols: Sequence[str]) -> str:
    """Loads the installed plugin afresh (this process imported nothing of it before), checks
    it against the contract (the registry's own check, as every venue lookup makes it) and
    returns its version; raises with the reason (one line) when it cannot run."""
    from mdc.venues.registry import get_venue  # noqa: PLC0415 - the point: imported only here

    adapter = get_venue(venue)
    if adapter.has_books:
        for symbol in symbols:
            adapter.book_sync(symbol)
    return installed_version(venue)


async def answer_reloads(
    supervisor: Supervisor, inbox: ReloadInbox, check: PluginCheck, stop: asyncio.Event
) -> None:
    """Carries out reload requests one at a time until `stop`; each gets an answer."""
    while not stop.is_set():
        for request in inbox.take():
            try:
                done = await supervisor.reload_provider(request.venue, check)
                answer = ReloadAnswer(
                    request.id,
                    request.venue,
                    True,
                    f"{request.venue}: now running {done.new} (was {done.old or 'unknown'}); "
                    f"the old provider {'drained' if done.drained else 'did not drain in time'}",
                    done.old,
                    done.new,
                    time.time_ns(),
                )
            except PluginRefused as exc:
                answer = ReloadAnswer(
                    request.id, request.venue, False, str(exc), "", "", time.time_ns()
                )
            log.warning("mdc: plugin reload: %s", answer.detail)
            inbox.answer(answer)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), POLL_S)


def main(argv: list[str]) -> int:
    venue, symbols = argv[0], argv[1:]
    try:
        version = check_installed(venue, symbols)
    except Exception as exc:  # whatever a broken plugin raises is the answer, in one line
        print(
            f"{venue}: the installed plugin cannot run: {type(exc).__name__}: {exc}",
            file=sys.stderr,
        )
        return 1
    print(json.dumps({"version": version}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
