"""Kill one replica of a Ray Serve deployment (globs over application and deployment names, one
replica picked with the scenario's rng). Replicas are named actors in the Serve namespace,
`SERVE_REPLICA::<app>#<deployment>#<id>`; the Serve controller notices the death and starts a
replacement, so heal only stamps the record."""

from __future__ import annotations

from fnmatch import fnmatchcase

import ray

from chaos.faults.base import Applied, FaultContext, SelfHealingFault

REPLICA_PREFIX = "SERVE_REPLICA::"


class KillServeReplica(SelfHealingFault):
    name = "kill_serve_replica"
    kind = "process"

    def __init__(self, *, app: str = "*", deployment: str = "*") -> None:
        super().__init__()
        self.app, self.deployment = app, deployment

    def _apply(self, ctx: FaultContext) -> Applied:
        replicas = serve_replicas(ctx.serve_namespace)
        wanted = f"{REPLICA_PREFIX}{self.app}#{self.deployment}#*"
        name = ctx.pick(wanted, [r for r in replicas if fnmatchcase(r, wanted)], "Serve replica")
        ray.kill(ray.get_actor(name, namespace=ctx.serve_namespace), no_restart=True)
        app, deployment, replica = name.removeprefix(REPLICA_PREFIX).split("#")
        return Applied(name, {"app": app, "deployment": deployment, "replica": replica})


def serve_replicas(namespace: str = "serve") -> list[str]:
    """Names of the live Serve replica actors."""
    return sorted(
        actor["name"]
        for actor in ray.util.list_named_actors(all_namespaces=True)
        if actor["namespace"] == namespace and actor["name"].startswith(REPLICA_PREFIX)
    )
