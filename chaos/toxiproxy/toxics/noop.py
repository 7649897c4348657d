"""noop: passes everything through unchanged (what a toxic becomes when toxicity misses)."""

from __future__ import annotations

from dataclasses import dataclass

from chaos.toxiproxy.toxics.base import Toxic


@dataclass(frozen=True, slots=True)
class NoopAttrs:
    pass


class Noop(Toxic[NoopAttrs]):
    name = "noop"
    attrs_type = NoopAttrs
