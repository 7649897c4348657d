"""bandwidth: at most `rate` KB/s (bytes per ms); big chunks leave as 100 ms pieces."""

from __future__ import annotations

from dataclasses import dataclass

from chaos.toxiproxy.toxics.base import MS, Chunk, Item, LinkCtx, Toxic


@dataclass(frozen=True, slots=True)
class BandwidthAttrs:
    rate: int = 0
    """KB/s with 1 KB = 1000 B, i.e. bytes per millisecond; <= 0 means unlimited."""


@dataclass(slots=True)
class _Wire:
    """When this link's simulated wire is free again (ns): the debt still to serve."""

    free_at_ns: int = 0


class Bandwidth(Toxic[BandwidthAttrs]):
    name = "bandwidth"
    attrs_type = BandwidthAttrs

    def new_state(self) -> _Wire:
        return _Wire()

    def apply(self, chunk: Chunk, ctx: LinkCtx) -> list[Item]:
        rate = self.attrs.rate
        if rate <= 0:
            return [chunk]
        wire: _Wire = ctx.state
        at_ns = max(chunk.at_ns, wire.free_at_ns)
        piece_size = rate * 100
        pieces: list[Item] = []
        for start in range(0, len(chunk.data), piece_size):
            piece = chunk.data[start : start + piece_size]
            at_ns += len(piece) * MS // rate
            pieces.append(Chunk(piece, at_ns))
        wire.free_at_ns = at_ns
        return pieces
