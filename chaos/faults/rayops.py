"""The few Ray operations process and storage faults share: a bounded call on an actor, running a
function inside an actor (`__ray_call__`), and waiting for an actor to die."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import ray
from ray.exceptions import GetTimeoutError, RayActorError

from chaos.faults.base import FaultError, FaultTargetError

CALL_TIMEOUT_S = 10.0
DEATH_POLL_S = 0.05


def call(handle: Any, method: str, *args: Any, timeout_s: float = CALL_TIMEOUT_S) -> Any:
    """`handle.method(*args)`, waited for; a dead actor is a FaultTargetError."""
    try:
        return ray.get(getattr(handle, method).remote(*args), timeout=timeout_s)
    except RayActorError as exc:
        raise FaultTargetError(f"the actor died before {method} answered: {exc}") from exc
    except GetTimeoutError as exc:
        raise FaultError(f"{method} did not answer within {timeout_s}s") from exc


def run_inside(handle: Any, fn: Callable[..., Any], *args: Any) -> Any:
    """`fn(actor_instance, *args)` run in the actor's process (Ray's `__ray_call__`)."""
    return call(handle, "__ray_call__", fn, *args)


def actor_pid(handle: Any) -> int:
    return call(handle, "pid")


def node_id(handle: Any) -> str:
    return run_inside(handle, _node_id_of)


def _node_id_of(_actor: object) -> str:
    return ray.get_runtime_context().get_node_id()


def wait_dead(handle: Any, timeout_s: float) -> bool:
    """Poll the actor until it is gone (True) or `timeout_s` passes (False)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            ray.get(handle.__ray_ready__.remote(), timeout=max(0.1, deadline - time.monotonic()))
        except RayActorError:
            return True
        except GetTimeoutError:
            return False
        time.sleep(DEATH_POLL_S)
    return False
