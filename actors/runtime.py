"""Starting and stopping Ray for the collector, with the settings these small machines need."""

from __future__ import annotations

import os

import ray

# Ray 2.60 turns on token auth and usage stats by default; neither helps a local collector.
RAY_ENV_DEFAULTS = {
    "RAY_AUTH_MODE": "disabled",
    "RAY_USAGE_STATS_ENABLED": "0",
    # Ray starts workers at nice 15, so any busy process on the machine (a load client, the
    # simulator) starves the collector's actors and the API's replica; measured in
    # benchmarks/serve.py: the API's replica served 0.55x of a plain app's requests/s at nice 15
    # and 0.66x at 0 (before the other changes of benchmarks/RESULTS.md's serve section).
    "RAY_worker_niceness": "0",
}


def init_ray(address: str | None = None, num_cpus: int = 2) -> None:
    """Connect to a cluster (`address`, e.g. "auto") or start a local Ray with explicit CPUs."""
    for key, value in RAY_ENV_DEFAULTS.items():
        os.environ.setdefault(key, value)
    if ray.is_initialized():
        return
    if address:
        ray.init(address=address, log_to_driver=False)
    else:
        # "local": a new instance of our own. Without it, Ray joins whatever cluster
        # /tmp/ray/ray_current_cluster names (a `ray start` of the user's, or the leftover of
        # a killed run), where num_cpus is refused.
        ray.init(address="local", num_cpus=num_cpus, include_dashboard=False, log_to_driver=False)
