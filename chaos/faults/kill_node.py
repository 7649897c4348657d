"""Remove a Ray node of a `ray.cluster_utils.Cluster` (FaultContext.cluster): the node hosting a
named actor (`node_of`, a glob over actor names) or a worker node picked with the scenario's rng.
`graceful=False` SIGKILLs the raylet and its workers (Ray notices after its health checks, ~6 s
with fast settings, 16 s by default); `graceful=True` drains it (~0.4 s). The head node (the
driver's) is never removed. Heal adds a node with the removed one's CPUs and resources."""

from __future__ import annotations

from typing import Any

from chaos.faults.base import Applied, BaseFault, FaultContext, FaultTargetError
from chaos.faults.rayops import node_id


class KillNode(BaseFault):
    name = "kill_node"
    kind = "process"

    def __init__(self, *, node_of: str | None = None, graceful: bool = False) -> None:
        super().__init__()
        self.node_of, self.graceful = node_of, graceful
        self._removed: Any = None

    def _apply(self, ctx: FaultContext) -> Applied:
        cluster = ctx.require("cluster", "kill_node removes nodes of a ray.cluster_utils.Cluster")
        workers = {node.node_id: node for node in cluster.worker_nodes}
        detail: dict[str, Any] = {"graceful": self.graceful}
        if self.node_of is None:
            victim = workers[ctx.pick("*", list(workers), "worker node")]
        else:
            actor = ctx.pick(self.node_of, ctx.actor_names(), "actor")
            hosting = node_id(ctx.actor(actor))
            if hosting not in workers:
                raise FaultTargetError(f"{actor} runs on {hosting}, not on a removable worker")
            victim, detail["actor"] = workers[hosting], actor
        cluster.remove_node(victim, allow_graceful=self.graceful)
        self._removed = victim
        return Applied(victim.node_id, detail)

    def _undo(self, ctx: FaultContext) -> None:
        params = self._removed._ray_params
        ctx.cluster.add_node(num_cpus=params.num_cpus, resources=params.resources)
