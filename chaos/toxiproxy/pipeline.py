"""One link's chain of toxics, sans-I/O: items in, timed items out, clock passed in.

Every stage owns the FIFO of items waiting to enter it; the queue after the last stage holds
what waits to leave the link. An item moves on when it is at the head of its queue and its
`at_ns` has passed, so order is kept and a toxic's "hold" is simply the queue after it.
The pipeline, not the toxic, rolls toxicity (once per start of a toxic on this link), and
it flushes what a toxic holds when that toxic is updated or removed, so nothing is lost.
"""

from __future__ import annotations

import dataclasses
import enum
import random
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass

from chaos.toxiproxy.toxics.base import Chunk, Close, Eof, Item, LinkCtx, Toxic

MAX_PENDING_ITEMS = 1024
"""Items a link may queue before its reader stops reading (Toxiproxy buffers 1024 chunks)."""


class Direction(enum.Enum):
    UPSTREAM = "upstream"
    """Client to server bytes."""
    DOWNSTREAM = "downstream"
    """Server to client bytes."""


@dataclass(frozen=True, slots=True)
class ToxicSpec:
    """A toxic as the API knows it: the envelope Toxiproxy calls ToxicWrapper."""

    name: str
    stream: str
    """As the client sent it (Toxiproxy echoes the case it was given)."""
    direction: Direction
    toxicity: float
    toxic: Toxic


@dataclass(slots=True)
class _Stage:
    spec: ToxicSpec
    ctx: LinkCtx
    inbox: deque[Item]
    applies: bool = False


class Pipeline:
    """The toxics of one direction of one connection, in insertion order."""

    def __init__(self, specs: Iterable[ToxicSpec], rng: random.Random, now_ns: int) -> None:
        self._rng = rng
        self._stages: list[_Stage] = []
        self._out: deque[Item] = deque()
        for spec in specs:
            self._append(spec, now_ns, fresh=True)

    def feed(self, item: Item) -> None:
        """An item read from the source (a chunk, or the source's EOF)."""
        (self._stages[0].inbox if self._stages else self._out).append(item)

    def pending(self) -> int:
        return len(self._out) + sum(len(stage.inbox) for stage in self._stages)

    def add(self, spec: ToxicSpec, now_ns: int) -> None:
        self._append(spec, now_ns, fresh=False)

    def update(self, spec: ToxicSpec, now_ns: int) -> None:
        """New config, same state; what the old config held is released now; toxicity re-rolled."""
        i = self._index(spec.name)
        stage = self._stages[i]
        after = self._box_after(i)
        after.extend(_flush(after, now_ns))
        stage.spec = spec
        self._start(i, now_ns)

    def remove(self, name: str, now_ns: int) -> None:
        i = self._index(name)
        after = self._box_after(i)
        stage = self._stages.pop(i)
        cleanup = stage.spec.toxic.on_remove(now_ns, stage.ctx) if stage.applies else []
        after.extend([*_flush(after, now_ns), *cleanup, *stage.inbox])

    def poll(self, now_ns: int) -> list[Item]:
        """Run every stage up to `now_ns`; return the items that leave the link, in order."""
        for i, stage in enumerate(self._stages):
            self._run(stage, self._box_after(i), now_ns)
        ready: list[Item] = []
        while self._out and self._out[0].at_ns <= now_ns:
            ready.append(self._out.popleft())
        return ready

    def next_wake_ns(self) -> int | None:
        """The earliest time `poll` can make progress, or None if only new input can."""
        times = [box[0].at_ns for box in self._boxes() if box]
        times += [s.ctx.timer_ns for s in self._stages if s.applies and s.ctx.timer_ns is not None]
        return min(times, default=None)

    def _append(self, spec: ToxicSpec, now_ns: int, *, fresh: bool) -> None:
        ctx = LinkCtx(rng=self._rng, state=spec.toxic.new_state(), fresh=fresh)
        self._stages.append(_Stage(spec, ctx, inbox=self._out))
        self._out = deque()
        self._start(len(self._stages) - 1, now_ns)

    def _start(self, i: int, now_ns: int) -> None:
        stage = self._stages[i]
        stage.applies = self._roll(stage.spec.toxicity)
        stage.ctx.timer_ns = None
        if stage.applies:
            self._box_after(i).extend(stage.spec.toxic.on_start(now_ns, stage.ctx))

    def _roll(self, toxicity: float) -> bool:
        if toxicity <= 0:
            return False
        return toxicity >= 1 or self._rng.random() < toxicity

    def _run(self, stage: _Stage, after: deque[Item], now_ns: int) -> None:
        """Feed due items and the due timer to the toxic, earliest first (items win ties)."""
        while True:
            head = stage.inbox[0] if stage.inbox and stage.inbox[0].at_ns <= now_ns else None
            timer = stage.ctx.timer_ns if stage.applies else None
            due = timer if timer is not None and timer <= now_ns else None
            if head is not None and (due is None or head.at_ns <= due):
                stage.inbox.popleft()
                after.extend(_through(stage, head))
            elif due is not None:
                stage.ctx.timer_ns = None
                after.extend(stage.spec.toxic.on_timer(due, stage.ctx))
            else:
                return

    def _index(self, name: str) -> int:
        for i, stage in enumerate(self._stages):
            if stage.spec.name == name:
                return i
        raise KeyError(name)

    def _box_after(self, i: int) -> deque[Item]:
        return self._stages[i + 1].inbox if i + 1 < len(self._stages) else self._out

    def _boxes(self) -> list[deque[Item]]:
        return [*(stage.inbox for stage in self._stages), self._out]


def _through(stage: _Stage, item: Item) -> list[Item]:
    """One item through one stage; outputs never leave before their input arrived."""
    if not stage.applies or isinstance(item, Close):
        return [item]
    toxic, ctx = stage.spec.toxic, stage.ctx
    out = toxic.apply(item, ctx) if isinstance(item, Chunk) else toxic.on_eof(item, ctx)
    return [o if o.at_ns >= item.at_ns else dataclasses.replace(o, at_ns=item.at_ns) for o in out]


def _flush(box: deque[Item], now_ns: int) -> list[Item]:
    """Empty `box`, returning its items due no later than `now_ns` (order kept)."""
    items = [i if i.at_ns <= now_ns else dataclasses.replace(i, at_ns=now_ns) for i in box]
    box.clear()
    return items


__all__ = ["MAX_PENDING_ITEMS", "Chunk", "Close", "Direction", "Eof", "Pipeline", "ToxicSpec"]
