"""What every fault injector shares: the Fault protocol, the context a scenario fills, the record a
fault leaves on the report timeline, and the typed errors.

A fault is configured when built (keyword parameters, checked at once), acts on the world only in
`inject(ctx)` and undoes its own effect in `heal(ctx)`. Heal is idempotent: healing twice, or
healing a fault that was never injected, does nothing. Faults whose effect the system heals by
itself (a killed actor is restarted by the supervisor) still get a heal, which only stamps the
record, so a scenario can treat every fault the same way.
"""

from __future__ import annotations

import os
import random
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Any, ClassVar, Literal, Protocol

from mdc.errors import CollectorError, ConfigError, LocalMisuse

FaultKind = Literal["network", "storage", "process"]
DEFAULT_TOXIPROXY_URL = "http://127.0.0.1:8474"
TOXIPROXY_URL_ENV = "TOXIPROXY_URL"


class FaultError(CollectorError):
    """A fault could not be injected or healed."""


class UnknownFault(ConfigError):
    """No fault of that name is registered (entry-point group `mdc.faults` or the built-ins)."""


class FaultParamError(ConfigError):
    """A fault was built with parameters it does not take or values out of range."""


class FaultSetupError(FaultError):
    """The environment lacks what the fault needs (root, a tmpfs, a proxy, a Ray cluster...)."""


class FaultTargetError(FaultError):
    """The named target (actor, proxy, node, replica) does not exist."""


class FaultStateError(LocalMisuse):
    """inject() called again before the previous injection was healed."""


@dataclass(slots=True)
class FaultRecord:
    """One fault on the report timeline; `heal` stamps `healed_at_ns` in place."""

    name: str
    target: str
    injected_at_ns: int
    healed_at_ns: int | None = None
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass
class FaultContext:
    """Everything a fault may act on; a scenario fills the parts its faults need.

    `actors` maps names ("writer", "provider:binance", ...) to Ray actor handles and is consulted
    before `supervisor.children[name].handle`, so a test can hand in bare actors."""

    rng: random.Random
    clock: Callable[[], int] = time.time_ns
    data_dir: str | None = None
    supervisor: Any = None
    actors: dict[str, Any] = field(default_factory=dict)
    toxiproxy_url: str = field(
        default_factory=lambda: os.environ.get(TOXIPROXY_URL_ENV, DEFAULT_TOXIPROXY_URL)
    )
    proxies: dict[str, str] = field(default_factory=dict)
    netns: Any = None
    cluster: Any = None
    serve_namespace: str = "serve"

    def require(self, attribute: str, why: str) -> Any:
        value = getattr(self, attribute)
        if value is None or value == {}:
            raise FaultSetupError(f"FaultContext.{attribute} is not set: {why}")
        return value

    def actor_names(self) -> list[str]:
        names = set(self.actors)
        if self.supervisor is not None:
            names |= {n for n, c in self.supervisor.children.items() if c.handle is not None}
        return sorted(names)

    def actor(self, name: str) -> Any:
        if name in self.actors:
            return self.actors[name]
        child = self.supervisor.children.get(name) if self.supervisor is not None else None
        if child is None or child.handle is None:
            raise FaultTargetError(f"no actor {name!r}; known: {self.actor_names()}")
        return child.handle

    def pick(self, pattern: str, candidates: list[str], what: str) -> str:
        """One of the candidates matching a glob pattern, chosen with the scenario's rng."""
        matches = sorted(c for c in candidates if fnmatchcase(c, pattern))
        if not matches:
            raise FaultTargetError(f"no {what} matches {pattern!r}; known: {sorted(candidates)}")
        return matches[0] if len(matches) == 1 else self.rng.choice(matches)


class Fault(Protocol):
    name: str
    kind: FaultKind

    def inject(self, ctx: FaultContext) -> FaultRecord: ...
    def heal(self, ctx: FaultContext) -> None: ...


@dataclass(frozen=True, slots=True)
class Applied:
    """What `_apply` reports: the concrete target it hit and details for the timeline."""

    target: str
    detail: dict[str, Any] = field(default_factory=dict)


class BaseFault(ABC):
    """Bookkeeping for every fault: one live injection at a time, its record, idempotent heal.
    Subclasses implement `_apply` (cause the effect) and `_undo` (remove it)."""

    name: ClassVar[str]
    kind: ClassVar[FaultKind]

    def __init__(self) -> None:
        self.record: FaultRecord | None = None

    def inject(self, ctx: FaultContext) -> FaultRecord:
        if self.record is not None and self.record.healed_at_ns is None:
            raise FaultStateError(f"{self.name}: injected twice without a heal in between")
        applied = self._apply(ctx)
        self.record = FaultRecord(self.name, applied.target, ctx.clock(), None, applied.detail)
        return self.record

    def heal(self, ctx: FaultContext) -> None:
        if self.record is None or self.record.healed_at_ns is not None:
            return
        self._undo(ctx)
        self.record.healed_at_ns = ctx.clock()

    @abstractmethod
    def _apply(self, ctx: FaultContext) -> Applied: ...

    @abstractmethod
    def _undo(self, ctx: FaultContext) -> None: ...


class SelfHealingFault(BaseFault):
    """A fault the system under test recovers from on its own (a kill): heal only stamps."""

    def _undo(self, ctx: FaultContext) -> None:
        return None


def check_param(ok: bool, fault: str, message: str) -> None:
    if not ok:
        raise FaultParamError(f"{fault}: {message}")
