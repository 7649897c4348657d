"""slicer: cut chunks into ~`average_size` pieces sent `delay` µs apart."""

from __future__ import annotations

import random
from dataclasses import dataclass

from chaos.toxiproxy.toxics.base import US, Chunk, Item, LinkCtx, Toxic


@dataclass(frozen=True, slots=True)
class SlicerAttrs:
    average_size: int = 0
    """Bytes; clamped to >= 1 (Toxiproxy recurses forever on 0)."""
    size_variation: int = 0
    """Bytes; every split point moves by a draw from [-size_variation, size_variation)."""
    delay: int = 0
    """Microseconds between consecutive pieces."""


class Slicer(Toxic[SlicerAttrs]):
    name = "slicer"
    attrs_type = SlicerAttrs

    def apply(self, chunk: Chunk, ctx: LinkCtx) -> list[Item]:
        step_ns = max(0, self.attrs.delay) * US
        return [
            Chunk(chunk.data[start:end], chunk.at_ns + i * step_ns)
            for i, (start, end) in enumerate(self._bounds(len(chunk.data), ctx.rng))
        ]

    def _bounds(self, size: int, rng: random.Random) -> list[tuple[int, int]]:
        """Halve until each piece is <= average + variation; left to right, like the Go code."""
        average = max(1, self.attrs.average_size)
        variation = max(0, self.attrs.size_variation)
        pieces: list[tuple[int, int]] = []
        todo = [(0, size)]
        while todo:
            start, end = todo.pop()
            if end - start - average <= variation:
                pieces.append((start, end))
                continue
            mid = start + (end - start) // 2
            if variation > 0:
                mid += rng.randrange(-variation, variation)
            mid = min(max(mid, start + 1), end - 1)
            todo += [(mid, end), (start, mid)]
        return pieces
