"""Make an actor stop answering: its event loop is blocked for `seconds` through the actors' own
`_hang_for_testing` (providers and BookActors have it), as a deadlock would. The supervisor's
ping times out and it kills and restarts the actor; a hang nobody notices ends by itself after
`seconds`. Nothing can unblock the loop from outside, so heal only stamps the record."""

from __future__ import annotations

from chaos.faults.base import Applied, FaultContext, FaultSetupError, SelfHealingFault, check_param


class HangActor(SelfHealingFault):
    name = "hang_actor"
    kind = "process"

    def __init__(self, *, target: str = "provider:*", seconds: float = 30.0) -> None:
        super().__init__()
        check_param(0 < seconds <= 600, self.name, "seconds must be within (0, 600]")
        self.target, self.seconds = target, seconds

    def _apply(self, ctx: FaultContext) -> Applied:
        name = ctx.pick(self.target, ctx.actor_names(), "actor")
        handle = ctx.actor(name)
        if not hasattr(handle, "_hang_for_testing"):
            raise FaultSetupError(f"{name} cannot be hung: it has no _hang_for_testing method")
        handle._hang_for_testing.remote(self.seconds)
        return Applied(name, {"seconds": self.seconds})
