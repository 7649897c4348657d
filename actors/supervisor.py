"""Supervisor: starts the actors, pings them, restarts them one-for-one by policy, escalates.

A child that dies (the ping raises) or hangs (the ping times out) is killed and started again after
a jittered backoff, in a task of its own, so the others are still pinged meanwhile; more than R
restarts within T seconds marks it failed: a Status event goes to the store and a log line says
so. A child that gave up by itself (its ping reports a failure no retry can fix, such as a
rejected API key) is marked failed and not restarted: its own Status event says what to fix.

Restarting a child rewires its peers: producers resend their unacknowledged batches to a new
writer; a new provider resumes trade continuity from the last durable trade; a new BookActor (or a
book fed by a new provider) starts from fresh snapshots.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Literal

import ray
from ray.actor import ActorHandle
from ray.exceptions import RayActorError

from actors.books import BOOKS_ACTOR_TEMPLATE, BookActor
from actors.connection import VenueRun
from actors.plugin_reload import PluginCheck, PluginRefused, Reloaded
from actors.provider import ProviderActor
from actors.telemetry import TRACES_FILE_ENV
from actors.writer import StorageWriterActor
from mdc.batching import BatchPolicy, EventBatch
from mdc.events import Status
from mdc.supervision import ChildState, Escalate, RestartPolicy, RestartTracker, checked_move

log = logging.getLogger(__name__)
Kind = Literal["writer", "books", "provider"]


DEFAULT_NAMESPACE = "mdc"
"""Ray namespace of the named actors (BookActors, found by the prediction API)."""
NAME_RELEASE_TIMEOUT_S = 10.0
STANDBY_WAIT_S = 10.0
"""How long a restart waits for a standby provider that is still starting."""
RELOAD_DRAIN_S = 20.0
"""How long a reloaded provider's predecessor may take to flush and be acknowledged."""


@dataclass
class Child:
    name: str
    kind: Kind
    venue: str
    tracker: RestartTracker
    handle: ActorHandle | None = None
    state: ChildState = ChildState.STARTING
    """Changed only through `move_to`, so every move is checked against the one table."""
    last_ping: dict = field(default_factory=dict)
    last_error: str = ""
    restart_errors: int = 0
    """Errors raised while restarting it (each counts as one more failure, by the policy)."""
    restart: asyncio.Task | None = None
    """Its restart in progress (until its peers are rewired): at most one at a time."""

    def move_to(self, state: ChildState) -> None:
        self.state = checked_move(self.state, state, f"supervisor child {self.name}")


class Supervisor:
    def __init__(
        self,
        runs: list[VenueRun],
        data_dir: str,
        *,
        policy: RestartPolicy | None = None,
        batch: BatchPolicy | None = None,
        rng: random.Random | None = None,
        writer_faults: bool = False,
        namespace: str = DEFAULT_NAMESPACE,
        standby: bool = False,
    ) -> None:
        self.runs = {run.venue: run for run in runs}
        self.namespace = namespace
        self.data_dir = data_dir
        self.policy = policy or RestartPolicy()
        self.batch = batch or BatchPolicy()
        self.rng = rng or random.Random()
        self.writer_faults = writer_faults
        self.children: dict[str, Child] = {}
        self.standby = standby
        """Keep a created, unstarted provider per venue: a restart skips the process start (about
        1.3 s of the 1.6 s from a provider's SIGKILL to streaming again)."""
        self._standbys: dict[str, ActorHandle] = {}
        self._status_seq = 0
        self.on_writer: list[Callable[[ActorHandle], Awaitable[None]]] = []
        """Told of each restarted writer (log followers in other actors long-poll it)."""

    # -- lifecycle ------------------------------------------------------------------------

    async def start(self) -> None:
        self._add("writer", "writer", "")
        await self._start_writer()
        for venue in self.runs:
            self._add(f"books:{venue}", "books", venue)
            self._add(f"provider:{venue}", "provider", venue)
            await self._start_books(venue)
            await self._start_provider(venue)

    async def watch(self, stop: asyncio.Event) -> None:
        """Ping every running child each period, all at once, so one slow answer delays no other
        check. A stop cancels the restarts still in progress."""
        try:
            while not stop.is_set():
                running = self._running("writer", "books", "provider")
                await asyncio.gather(*(self._check(child) for child in running))
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), self.policy.ping_every_s)
        finally:
            restarts = [c.restart for c in self.children.values() if c.restart is not None]
            for task in restarts:
                task.cancel()
            await asyncio.gather(*restarts, return_exceptions=True)

    async def stop(self, timeout_s: float = 15.0) -> dict[str, bool]:
        """Providers first (they flush and wait for acks), then books, then the writer. Returns,
        per producer, whether everything it sent was acknowledged in time."""
        drained: dict[str, bool] = {}
        for kind in ("provider", "books"):
            for child in self._of_kind(kind):
                drained[child.name] = bool(await self._call(child, "stop", timeout_s))
        for child in self._of_kind("writer"):
            await self._call(child, "close", timeout_s)
        for child in self.children.values():
            if child.handle is not None:
                ray.kill(child.handle, no_restart=True)
        for standby in self._standbys.values():
            ray.kill(standby, no_restart=True)
        self._standbys.clear()
        return drained

    def status(self) -> dict[str, dict]:
        return {
            name: {
                "state": c.state.value,
                "restarts": c.tracker.total,
                "error": c.last_error,
                "restart errors": c.restart_errors,
                **c.last_ping,
            }
            for name, c in self.children.items()
        }

    # -- hot reload -----------------------------------------------------------------------

    async def reload_provider(self, venue: str, check: PluginCheck) -> Reloaded:
        """Replace a venue's provider by one running the plugin version installed now.

        `check` loads and validates that version in a fresh process first; if it fails, nothing
        changes and PluginRefused says why. Otherwise the old provider drains (closes its
        connection, flushes, waits for every acknowledgement) and stops, and a new actor (a new
        worker process: it imports the installed code) resumes after the newest durable trade
        of each symbol, backfilling what was published meanwhile, while the BookActor resyncs
        its books from fresh snapshots. The store deduplicates by identity, so an overlap is
        stored once. The standby, made with the old code, is replaced too.
        """
        child = self.children.get(f"provider:{venue}")
        if child is None:
            raise PluginRefused(f"{venue}: not collected here (venues: {', '.join(self.runs)})")
        if child.state is not ChildState.RUNNING:
            raise PluginRefused(f"provider:{venue} is {child.state.value}: reload when it runs")
        old = str(child.last_ping.get("plugin", ""))
        new = await check(venue)  # raises PluginRefused: the old provider keeps running
        child.move_to(ChildState.RESTARTING)  # the watch loop leaves it alone meanwhile
        standby = self._standbys.pop(venue, None)
        if standby is not None:
            ray.kill(standby, no_restart=True)
        drained = await self._call(child, "stop", RELOAD_DRAIN_S)
        ray.kill(child.handle, no_restart=True)
        try:
            await self._start_provider(venue, resync_books=True)
        except Exception as exc:  # the new version fails in the actor: restart it by policy
            self._recover_later(child, f"reloaded provider failed to start: {exc}")
            raise PluginRefused(f"{venue} {new} did not start: {exc}") from exc
        log.warning("mdc supervisor: provider:%s reloaded: %s -> %s", venue, old or "?", new)
        return Reloaded(venue, old, new, bool(drained))

    # -- supervision ----------------------------------------------------------------------

    async def _check(self, child: Child) -> None:
        try:
            child.last_ping = await asyncio.wait_for(
                _as_future(child.handle.ping.remote()), self.policy.ping_timeout_s
            )
        except TimeoutError:
            self._recover_later(child, f"no answer to ping within {self.policy.ping_timeout_s}s")
        except RayActorError as exc:
            self._recover_later(child, f"died: {type(exc).__name__}")
        else:
            if child.last_ping.get("failure"):
                self._gave_up(child, child.last_ping["failure"])

    def _gave_up(self, child: Child, failure: str) -> None:
        """Restarting would only repeat the failure (a rejected API key): marked failed, kept
        alive so that a stop still drains what it sent (its own Status event says what to fix)."""
        child.move_to(ChildState.FAILED)
        child.last_error = failure
        log.error("mdc supervisor: %s failed for good, not restarted: %s", child.name, failure)

    def _recover_later(self, child: Child, reason: str) -> None:
        """Restart in a task of its own: one child's backoff must not hold up the pings of the
        others (a writer hanging while a provider waited out its backoff went unnoticed). One
        restart per child at a time: two at once counted one failure twice and leaked an actor."""
        if child.restart is not None and not child.restart.done():
            return  # a ping of the new incarnation failed while its restart rewires its peers:
            # that restart ends first; the next ping finds the child dead again if it still is
        child.move_to(ChildState.RESTARTING)
        child.restart = asyncio.create_task(self._recover(child, reason))

    async def _recover(self, child: Child, reason: str) -> None:
        """The outermost boundary of one child's restart: an error in it (a peer gone meanwhile,
        a name not released yet) is counted, logged and taken as one more failure of that child,
        so the policy retries or escalates; none reaches the watch loop."""
        while child.state is ChildState.RESTARTING:
            try:
                await self._on_failure(child, reason)
            except Exception as exc:
                child.restart_errors += 1
                reason = f"restart failed: {type(exc).__name__}: {exc}"
                log.exception("mdc supervisor: %s %s", child.name, reason)

    async def _on_failure(self, child: Child, reason: str) -> None:
        child.last_error = reason
        # Decided before anything that may raise: retries after errors stay bounded by the policy.
        decision = child.tracker.on_failure(time.monotonic())
        child.move_to(
            ChildState.FAILED if isinstance(decision, Escalate) else ChildState.RESTARTING
        )
        if child.handle is not None:
            ray.kill(child.handle, no_restart=True)
        if isinstance(decision, Escalate):
            detail = (
                f"{child.name} failed: {reason}; {decision.restarts_in_window} restarts in "
                f"{decision.window_s:.0f}s exceeded the restart intensity"
            )
            log.error("mdc supervisor: %s", detail)
            await self._record_status(child, detail)
            return
        log.warning(
            "mdc supervisor: %s %s; restart %d in %.2fs",
            child.name,
            reason,
            decision.attempt,
            decision.delay_s,
        )
        await asyncio.sleep(decision.delay_s)
        await self._restart(child)

    async def _restart(self, child: Child) -> None:
        if child.kind == "writer":
            await self._start_writer()
            for peer in self._running("provider", "books"):
                await self._call(peer, "set_writer", self.policy.ping_timeout_s, self._writer())
            for hook in list(self.on_writer):
                await hook(self._writer())
        elif child.kind == "books":
            await self._start_books(child.venue)
            provider = self.children[f"provider:{child.venue}"]
            if provider.state is ChildState.RUNNING:
                await self._call(provider, "set_books", self.policy.ping_timeout_s, child.handle)
                await self._call(
                    child, "set_provider", self.policy.ping_timeout_s, provider.handle, True
                )
        else:
            await self._start_provider(child.venue, resync_books=True)

    async def _record_status(self, child: Child, detail: str) -> None:
        now = time.time_ns()
        self._status_seq += 1
        status = Status(child.venue, "", now, now, "failed", detail)
        batch = EventBatch("supervisor", self._status_seq, [status], now)
        writer = self.children["writer"]
        if writer.state is ChildState.RUNNING:
            await self._call(writer, "append", self.policy.ping_timeout_s, batch)

    # -- starting children ----------------------------------------------------------------

    async def _start_writer(self) -> None:
        child = self.children["writer"]
        child.handle = StorageWriterActor.options(**_placement(WRITER_RESOURCE)).remote(
            self.data_dir, self.writer_faults
        )
        await _as_future(child.handle.ping.remote())
        child.move_to(ChildState.RUNNING)

    async def _start_books(self, venue: str) -> None:
        child = self.children[f"books:{venue}"]
        name = BOOKS_ACTOR_TEMPLATE.format(venue=venue)
        deadline = time.monotonic() + NAME_RELEASE_TIMEOUT_S
        while True:
            try:
                child.handle = BookActor.options(
                    name=name, namespace=self.namespace, **_placement(None)
                ).remote(venue, self.runs[venue].session, self._writer(), self.batch)
                break
            except ValueError:  # the killed incarnation's name is not released yet
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.1)
        await _as_future(child.handle.ping.remote())
        child.move_to(ChildState.RUNNING)

    async def _start_provider(self, venue: str, resync_books: bool = False) -> None:
        child = self.children[f"provider:{venue}"]
        books = self.children[f"books:{venue}"]
        # The resume lookup runs while the actor is readied (its process started, or a standby
        # rewired): Ray hands its result to start(), so neither waits for the other.
        resume = self._writer().last_trades.remote(venue)
        child.handle = await self._provider_actor(venue)
        await _as_future(child.handle.start.remote(resume, resync_books))
        child.move_to(ChildState.RUNNING)
        if self.standby:
            self._standbys[venue] = self._new_provider_actor(venue)
        if books.state is ChildState.RUNNING:
            await self._call(
                books, "set_provider", self.policy.ping_timeout_s, child.handle, resync_books
            )

    def _new_provider_actor(self, venue: str) -> ActorHandle:
        """Created, not started: its process comes up while the caller goes on."""
        books = self.children[f"books:{venue}"].handle
        return ProviderActor.options(**_placement(PROVIDER_RESOURCE)).remote(
            self.runs[venue], self._writer(), books, self.batch
        )

    async def _provider_actor(self, venue: str) -> ActorHandle:
        """The venue's standby, told the writer and BookActor of now (either may have been
        restarted since it was made), or a new actor when there is none or it is gone."""
        standby = self._standbys.pop(venue, None)
        if standby is not None:
            books = self.children[f"books:{venue}"].handle
            try:  # one still starting has a head start on a new one: it is waited for
                await asyncio.wait_for(
                    _as_future(standby.set_writer.remote(self._writer())), STANDBY_WAIT_S
                )
                await asyncio.wait_for(_as_future(standby.set_books.remote(books)), STANDBY_WAIT_S)
                return standby
            except (RayActorError, TimeoutError):
                ray.kill(standby, no_restart=True)
        return self._new_provider_actor(venue)

    # -- helpers --------------------------------------------------------------------------

    def _add(self, name: str, kind: Kind, venue: str) -> None:
        self.children[name] = Child(name, kind, venue, RestartTracker(self.policy, self.rng))

    def _writer(self) -> ActorHandle:
        return self.children["writer"].handle

    @property
    def writer(self) -> ActorHandle:
        """The writer now (`on_writer` hooks hear of the next one)."""
        return self._writer()

    def _of_kind(self, kind: str) -> list[Child]:
        return [c for c in self.children.values() if c.kind == kind and c.handle is not None]

    def _running(self, *kinds: str) -> list[Child]:
        return [
            c for c in self.children.values() if c.kind in kinds and c.state is ChildState.RUNNING
        ]

    async def _call(self, child: Child, method: str, timeout_s: float, *args: object) -> object:
        """A call whose failure is the watch loop's business, not the caller's."""
        try:
            ref = getattr(child.handle, method).remote(*args)
            return await asyncio.wait_for(_as_future(ref), timeout_s)
        except (RayActorError, TimeoutError) as exc:
            child.last_error = f"{method}: {type(exc).__name__}"
            return None


TRACING_ENV_PREFIXES = ("OTEL_", TRACES_FILE_ENV)
WRITER_RESOURCE = "mdc_data"
"""Custom resource of the node that has the data volume (cluster.yaml): the writer goes there."""
PROVIDER_RESOURCE = "mdc_provider"
"""Custom resource of the nodes that may run providers (a few units each, cluster.yaml); providers
are spread over them, so one provider per node where there are enough nodes."""


def _placement(resource: str | None) -> dict:
    """Ask for the custom resource when the cluster offers it (a plain local Ray has none), and
    hand the tracing settings to the actor's process (workers on other nodes lack our env)."""
    options: dict = {"scheduling_strategy": "SPREAD"} if resource == PROVIDER_RESOURCE else {}
    if resource and ray.cluster_resources().get(resource, 0) > 0:
        options["resources"] = {resource: 1}
    tracing = {k: v for k, v in os.environ.items() if k.startswith(TRACING_ENV_PREFIXES)}
    if tracing:
        options["runtime_env"] = {"env_vars": tracing}
    return options


def _as_future(ref: ray.ObjectRef) -> asyncio.Future:
    return asyncio.wrap_future(ref.future())
