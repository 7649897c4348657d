"""One Ray instance for the whole test session (starting Ray costs seconds; see ray-notes)."""

import pytest


@pytest.fixture(scope="session")
def ray_runtime():
    import ray

    from actors.runtime import init_ray

    init_ray(num_cpus=2)
    yield
    ray.shutdown()
