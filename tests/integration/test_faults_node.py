"""kill_node on a real ray.cluster_utils.Cluster (head + one worker, in a child process: a cluster
cannot share a process with the session's Ray): the actor on the worker dies with its node; heal
adds a node with the same resources, where a new actor runs again."""

import json
import random
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
RESULT_PREFIX = "MDC-FAULT-RESULT "


def main() -> None:
    import ray
    from ray.cluster_utils import Cluster
    from ray.exceptions import RayActorError

    from actors.runtime import init_ray
    from chaos.faults.base import FaultContext
    from chaos.faults.kill_node import KillNode

    cluster = Cluster(
        initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False}
    )
    cluster.add_node(num_cpus=1, resources={"victim": 1})
    init_ray(address=cluster.address)

    @ray.remote(num_cpus=0, resources={"victim": 1}, max_restarts=0)
    class Probe:
        def node(self) -> str:
            return ray.get_runtime_context().get_node_id()

    probe = Probe.remote()
    seen: dict = {"node_before": ray.get(probe.node.remote(), timeout=60)}
    ctx = FaultContext(rng=random.Random(1), actors={"probe": probe}, cluster=cluster)
    fault = KillNode(node_of="probe", graceful=True)
    record = fault.inject(ctx)
    seen |= {"target": record.target, "detail": record.detail}
    try:
        ray.get(probe.node.remote(), timeout=30)
        seen["probe_after_kill"] = "answered"
    except RayActorError:
        seen["probe_after_kill"] = "dead"
    fault.heal(ctx)
    fault.heal(ctx)
    seen["node_after_heal"] = ray.get(Probe.remote().node.remote(), timeout=60)
    seen["healed"] = record.healed_at_ns is not None
    print(RESULT_PREFIX + json.dumps(seen), flush=True)
    ray.shutdown()
    cluster.shutdown()


@pytest.mark.ray
@pytest.mark.slow
def test_killed_node_takes_its_actor_and_heal_brings_a_node_back():
    done = subprocess.run(
        [sys.executable, "-m", "tests.integration.test_faults_node"],
        cwd=ROOT, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    lines = [line for line in done.stdout.splitlines() if line.startswith(RESULT_PREFIX)]
    assert lines, done.stdout[-3000:] + done.stderr[-3000:]
    seen = json.loads(lines[-1].removeprefix(RESULT_PREFIX))
    assert seen["target"] == seen["node_before"]
    assert seen["detail"] == {"graceful": True, "actor": "probe"}
    assert seen["probe_after_kill"] == "dead"
    assert seen["node_after_heal"] not in ("", seen["node_before"])
    assert seen["healed"]


if __name__ == "__main__":
    main()
