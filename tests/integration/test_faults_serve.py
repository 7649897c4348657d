"""kill_serve_replica on a real Ray Serve application: the replica dies, the Serve controller
starts a replacement, and the deployment answers again from a new process."""

import os
import random
import time

import pytest
from ray import serve

from chaos.faults.base import FaultContext, FaultTargetError
from chaos.faults.kill_serve_replica import KillServeReplica, serve_replicas

pytestmark = [pytest.mark.ray, pytest.mark.usefixtures("ray_runtime")]
APP = "chaos_probe"


@serve.deployment(num_replicas=1, ray_actor_options={"num_cpus": 0})
class Probe:
    def __call__(self) -> int:
        return os.getpid()


@pytest.fixture
def probe():
    serve.start(proxy_location="Disabled")
    handle = serve.run(Probe.bind(), name=APP, route_prefix=None)
    try:
        yield handle
    finally:
        serve.delete(APP)
        serve.shutdown()


def _replaced(killed: str, timeout_s: float) -> list[str]:
    """Wait on the condition "a replica of APP other than `killed` is alive"."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        fresh = [r for r in serve_replicas() if f"::{APP}#" in r and r != killed]
        if fresh:
            return fresh
        time.sleep(0.2)
    raise AssertionError(f"no replacement for {killed} within {timeout_s}s")


def test_killed_replica_is_replaced_and_the_deployment_answers(probe):
    before_pid = probe.remote().result(timeout_s=30)
    ctx = FaultContext(rng=random.Random(2))
    fault = KillServeReplica(app=APP, deployment="Probe")
    record = fault.inject(ctx)
    assert record.detail["app"] == APP and record.detail["deployment"] == "Probe"
    assert record.target not in serve_replicas()

    _replaced(record.target, 30)
    assert probe.remote().result(timeout_s=30) != before_pid
    fault.heal(ctx)
    assert record.healed_at_ns >= record.injected_at_ns

    with pytest.raises(FaultTargetError, match="no Serve replica"):
        KillServeReplica(app="no_such_app").inject(ctx)
