"""slow_close: data passes unchanged; the close after the source's EOF waits `delay` ms."""

from __future__ import annotations

from dataclasses import dataclass

from chaos.toxiproxy.toxics.base import MS, Eof, Item, LinkCtx, Toxic


@dataclass(frozen=True, slots=True)
class SlowCloseAttrs:
    delay: int = 0
    """Milliseconds between the source's EOF and closing the connection."""


class SlowClose(Toxic[SlowCloseAttrs]):
    name = "slow_close"
    attrs_type = SlowCloseAttrs

    def on_eof(self, eof: Eof, ctx: LinkCtx) -> list[Item]:
        return [Eof(eof.at_ns + max(0, self.attrs.delay) * MS)]
