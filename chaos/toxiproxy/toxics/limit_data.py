"""limit_data: forward at most `bytes` bytes over the connection's life, then close it."""

from __future__ import annotations

from dataclasses import dataclass

from chaos.toxiproxy.toxics.base import Chunk, Close, Item, LinkCtx, Toxic


@dataclass(frozen=True, slots=True)
class LimitDataAttrs:
    bytes: int = 0
    """Bytes this link may forward; 0 closes on the first chunk."""


@dataclass(slots=True)
class _Sent:
    """Bytes forwarded so far; kept when the toxic is updated (Toxiproxy's StatefulToxic)."""

    count: int = 0


class LimitData(Toxic[LimitDataAttrs]):
    name = "limit_data"
    attrs_type = LimitDataAttrs

    def new_state(self) -> _Sent:
        return _Sent()

    def apply(self, chunk: Chunk, ctx: LinkCtx) -> list[Item]:
        sent: _Sent = ctx.state
        remaining = max(0, self.attrs.bytes - sent.count)
        if len(chunk.data) < remaining:
            sent.count += len(chunk.data)
            return [chunk]
        sent.count += remaining
        head: list[Item] = [Chunk(chunk.data[:remaining], chunk.at_ns)] if remaining else []
        return [*head, Close(chunk.at_ns)]
