"""Run as a script (its own Ray cluster cannot share a process with the test session's Ray):
head + 2 worker nodes on this machine, two venues; where the writer and the providers were placed
is recorded, then the node hosting binance's provider is removed mid-stream.
Prints one JSON line with what happened and the verify report's verdict."""

import asyncio
import json
import sys
import tempfile
from pathlib import Path

import ray
from ray.cluster_utils import Cluster

from actors.runtime import RAY_ENV_DEFAULTS
from actors.supervisor import PROVIDER_RESOURCE, WRITER_RESOURCE
from chaos.faults.rayops import node_id
from mdc.supervision import ChildState
from tests.integration.collector import collect, wait_until

RESULT_PREFIX = "MDC-RESULT "
"""Ray's own logs share stdout; the result is the line with this prefix."""
VENUES = ("binance", "coinbase")
"""Two providers for two worker nodes: enough to see them spread."""
FAST_HEALTH = {
    "health_check_period_ms": 500,
    "health_check_failure_threshold": 3,
    "health_check_timeout_ms": 500,
}


def main() -> int:
    cluster = Cluster(
        initialize_head=True,
        head_node_args={
            "num_cpus": 1,
            "resources": {WRITER_RESOURCE: 1},
            "_system_config": FAST_HEALTH,
            "include_dashboard": False,
        },
    )
    workers = [cluster.add_node(num_cpus=1, resources={PROVIDER_RESOURCE: 4}) for _ in range(2)]
    ray.init(address=cluster.address, log_to_driver=False)
    seen: dict = {
        "head": cluster.head_node.node_id,
        "workers": [w.node_id for w in workers],
    }

    async def scenario(supervisor, sim) -> None:
        nodes: dict[str, str] = {}
        for venue in VENUES:
            handle = supervisor.children[f"provider:{venue}"].handle
            nodes[venue] = (await asyncio.wrap_future(handle.ping.remote().future()))["node"]
        seen["providers_before"] = nodes
        # The writer's ping names no node: asked inside its process, in a thread (ray.get).
        seen["writer"] = await asyncio.to_thread(node_id, supervisor.writer)
        provider = supervisor.children["provider:binance"]
        victim = next(w for w in workers if w.node_id == nodes["binance"])
        cluster.remove_node(victim, allow_graceful=False)

        async def moved() -> bool:
            if provider.state is not ChildState.RUNNING or provider.tracker.total < 1:
                return False
            ping = await asyncio.wrap_future(provider.handle.ping.remote().future())
            seen["node_after"] = ping["node"]
            return ping["node"] != nodes["binance"]

        await wait_until(moved, 45, "the provider running on another node")

    with tempfile.TemporaryDirectory() as tmp:
        result = asyncio.run(collect(Path(tmp), VENUES, scenario))
    seen |= {
        "ok": result.report.ok,
        "report": result.report.lines(),
        "restarts": result.status["provider:binance"]["restarts"],
    }
    print(RESULT_PREFIX + json.dumps(seen), flush=True)
    ray.shutdown()
    cluster.shutdown()
    return 0


if __name__ == "__main__":
    import os

    for key, value in RAY_ENV_DEFAULTS.items():
        os.environ.setdefault(key, value)
    sys.exit(main())
