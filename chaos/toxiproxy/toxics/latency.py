"""latency: hold each chunk `latency` ms (± `jitter` ms) after it was read."""

from __future__ import annotations

from dataclasses import dataclass

from chaos.toxiproxy.toxics.base import MS, Chunk, Item, LinkCtx, Toxic


@dataclass(frozen=True, slots=True)
class LatencyAttrs:
    latency: int = 0
    """Milliseconds added to every chunk."""
    jitter: int = 0
    """Milliseconds; each chunk adds a whole number drawn from [-jitter, jitter)."""


class Latency(Toxic[LatencyAttrs]):
    name = "latency"
    attrs_type = LatencyAttrs

    def apply(self, chunk: Chunk, ctx: LinkCtx) -> list[Item]:
        delay_ms = self.attrs.latency
        if self.attrs.jitter > 0:
            delay_ms += ctx.rng.randrange(-self.attrs.jitter, self.attrs.jitter)
        return [chunk.release_at(chunk.at_ns + max(0, delay_ms) * MS)]
