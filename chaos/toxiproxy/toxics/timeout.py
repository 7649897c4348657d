"""timeout: drop all data; close the connection `timeout` ms after starting (0 = never)."""

from __future__ import annotations

from dataclasses import dataclass

from chaos.toxiproxy.toxics.base import MS, Chunk, Close, Item, LinkCtx, Toxic


@dataclass(frozen=True, slots=True)
class TimeoutAttrs:
    timeout: int = 0
    """Milliseconds from the toxic's start to the close; 0 holds the connection open."""


class Timeout(Toxic[TimeoutAttrs]):
    name = "timeout"
    attrs_type = TimeoutAttrs

    def on_start(self, now_ns: int, ctx: LinkCtx) -> list[Item]:
        if self.attrs.timeout > 0:
            ctx.timer_ns = now_ns + self.attrs.timeout * MS
        return []

    def apply(self, chunk: Chunk, ctx: LinkCtx) -> list[Item]:
        return []

    def on_timer(self, now_ns: int, ctx: LinkCtx) -> list[Item]:
        return [Close(now_ns)]

    def on_remove(self, now_ns: int, ctx: LinkCtx) -> list[Item]:
        """Held data is never released: the connection it was withheld from closes."""
        return [Close(now_ns)]
