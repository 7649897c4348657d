"""Kill a supervised actor (`writer`, `provider:<venue>`, `books:<venue>`; a glob picks one with
the scenario's rng): SIGKILL to its process (default; the process must be on this machine) or
`ray.kill`. The supervisor notices and restarts it, so heal only stamps the record."""

from __future__ import annotations

import os
import signal

import ray

from chaos.faults.base import Applied, FaultContext, SelfHealingFault, check_param
from chaos.faults.rayops import actor_pid

HOW = ("sigkill", "ray.kill")


class KillActor(SelfHealingFault):
    name = "kill_actor"
    kind = "process"

    def __init__(self, *, target: str = "provider:*", how: str = "sigkill") -> None:
        super().__init__()
        check_param(how in HOW, self.name, f"how must be one of {HOW}")
        self.target, self.how = target, how

    def _apply(self, ctx: FaultContext) -> Applied:
        name = ctx.pick(self.target, ctx.actor_names(), "actor")
        handle = ctx.actor(name)
        if self.how == "ray.kill":
            ray.kill(handle, no_restart=True)
            return Applied(name, {"how": self.how})
        pid = actor_pid(handle)
        os.kill(pid, signal.SIGKILL)
        return Applied(name, {"how": self.how, "pid": pid})
