"""reset_peer: drop the first chunk (or EOF), then `timeout` ms later reset the connection."""

from __future__ import annotations

from dataclasses import dataclass

from chaos.toxiproxy.toxics.base import MS, Chunk, Close, Eof, Item, LinkCtx, Toxic


@dataclass(frozen=True, slots=True)
class ResetPeerAttrs:
    timeout: int = 0
    """Milliseconds between the first chunk and the reset."""


class ResetPeer(Toxic[ResetPeerAttrs]):
    """Sends an RST only if present at accept (`ctx.fresh`); added later, it closes with a FIN."""

    name = "reset_peer"
    attrs_type = ResetPeerAttrs

    def on_start(self, now_ns: int, ctx: LinkCtx) -> list[Item]:
        ctx.state = False  # armed: waiting for the first chunk
        return []

    def apply(self, chunk: Chunk, ctx: LinkCtx) -> list[Item]:
        self._fire(chunk.at_ns, ctx)
        return []

    def on_eof(self, eof: Eof, ctx: LinkCtx) -> list[Item]:
        self._fire(eof.at_ns, ctx)
        return []

    def on_timer(self, now_ns: int, ctx: LinkCtx) -> list[Item]:
        return [Close(now_ns, reset=ctx.fresh)]

    def _fire(self, at_ns: int, ctx: LinkCtx) -> None:
        if not ctx.state:
            ctx.state = True
            ctx.timer_ns = at_ns + max(0, self.attrs.timeout) * MS
