"""An in-memory link: a `Pipeline` driven by a manual clock, for tests and what-if checks.

Like h11's `ConnectionPair`, it wires the sans-I/O core without sockets: `send` and `eof`
stamp items with the current virtual time, `run` jumps the clock from wake-up to wake-up
and collects what leaves the link, each item carrying the time it left.
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Iterable

from chaos.toxiproxy.pipeline import Direction, Pipeline, ToxicSpec
from chaos.toxiproxy.toxics.base import Chunk, Eof, Item, Toxic


def spec(toxic: Toxic, *, name: str | None = None, toxicity: float = 1.0) -> ToxicSpec:
    """A downstream ToxicSpec with Toxiproxy's default name."""
    return ToxicSpec(
        name=name or f"{toxic.name}_downstream",
        stream="downstream",
        direction=Direction.DOWNSTREAM,
        toxicity=toxicity,
        toxic=toxic,
    )


class MemoryLink:
    def __init__(self, toxics: Iterable[ToxicSpec | Toxic], *, seed: int = 0, now_ns: int = 0):
        self.now_ns = now_ns
        specs = [t if isinstance(t, ToxicSpec) else spec(t) for t in toxics]
        self.pipeline = Pipeline(specs, random.Random(seed), now_ns)

    def send(self, data: bytes) -> None:
        self.pipeline.feed(Chunk(data, self.now_ns))

    def eof(self) -> None:
        self.pipeline.feed(Eof(self.now_ns))

    def advance(self, now_ns: int) -> list[Item]:
        """Move the clock to `now_ns` (never back); return what left, stamped with that time."""
        self.now_ns = max(self.now_ns, now_ns)
        return [dataclasses.replace(i, at_ns=self.now_ns) for i in self.pipeline.poll(self.now_ns)]

    def run(self, until_ns: int | None = None) -> list[Item]:
        """Advance wake-up by wake-up until nothing is scheduled (or `until_ns`)."""
        out = self.advance(self.now_ns)
        while (wake := self.pipeline.next_wake_ns()) is not None:
            if until_ns is not None and wake > until_ns:
                break
            out += self.advance(wake)
        if until_ns is not None:
            out += self.advance(until_ns)
        return out


def payload(items: Iterable[Item]) -> bytes:
    """The bytes among `items`, joined."""
    return b"".join(i.data for i in items if isinstance(i, Chunk))
