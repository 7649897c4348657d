"""A slow disk: every fsync of the writer takes `delay_s` longer, until healed. Commits (and so
acknowledgements) slow down and producers' unacknowledged batches pile up against their bounds.
Acts at the writer's FaultyFS seam (see chaos/faults/writer_seam.py)."""

from __future__ import annotations

import contextlib
import functools
import time

from chaos.faults.base import Applied, BaseFault, FaultContext, FaultTargetError, check_param
from chaos.faults.writer_seam import set_fsync_hook


class SlowFsync(BaseFault):
    name = "slow_fsync"
    kind = "storage"

    def __init__(self, *, delay_s: float = 0.5, target: str = "writer") -> None:
        super().__init__()
        check_param(0.0 < delay_s <= 30.0, self.name, "delay_s must be within (0, 30]")
        self.delay_s, self.target = delay_s, target
        self._handle: object | None = None

    def _apply(self, ctx: FaultContext) -> Applied:
        handle = ctx.actor(self.target)
        set_fsync_hook(handle, functools.partial(time.sleep, self.delay_s))
        self._handle = handle
        return Applied(self.target, {"delay_s": self.delay_s})

    def _undo(self, ctx: FaultContext) -> None:
        with contextlib.suppress(FaultTargetError):  # a restarted writer has a clean seam
            set_fsync_hook(self._handle, None)
