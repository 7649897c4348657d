"""The writer process is SIGKILLed in the middle of a commit: after the commit's records were
written to the segment files, before their fsync, so before any of them was acknowledged.
Producers must resend, the store must deduplicate, recovery must cut any torn tail.

Inject arms the writer's before-fsync hook (chaos/faults/writer_seam.py) and returns once the
writer is dead, which takes one commit while events flow; if no commit comes within
`timeout_s` the hook is removed and FaultError is raised. The supervisor restarts the writer,
so heal only stamps the record."""

from __future__ import annotations

import contextlib
import os
import signal

from chaos.faults.base import (
    Applied,
    FaultContext,
    FaultError,
    FaultTargetError,
    SelfHealingFault,
    check_param,
)
from chaos.faults.rayops import actor_pid, wait_dead
from chaos.faults.writer_seam import set_fsync_hook


class CrashMidWrite(SelfHealingFault):
    name = "crash_mid_write"
    kind = "storage"

    def __init__(self, *, timeout_s: float = 10.0, target: str = "writer") -> None:
        super().__init__()
        check_param(timeout_s > 0, self.name, "timeout_s must be > 0")
        self.timeout_s, self.target = timeout_s, target

    def _apply(self, ctx: FaultContext) -> Applied:
        handle = ctx.actor(self.target)
        pid = actor_pid(handle)
        # A commit may hit the hook before the call that installs it has answered: the writer
        # then dies under our feet, which is the effect we want.
        with contextlib.suppress(FaultTargetError):
            set_fsync_hook(handle, _die)
        if not wait_dead(handle, self.timeout_s):
            set_fsync_hook(handle, None)
            raise FaultError(f"{self.target} made no commit within {self.timeout_s}s to crash in")
        return Applied(self.target, {"pid": pid, "at": "before fsync, records written"})


def _die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)
