"""Building blocks every pod shares: labels, resources, security context, probes, volumes.

One place for each rule the validator checks (requests == limits, non-root, /dev/shm on Ray
pods), so a new pod gets them by construction instead of by copy.
"""

from __future__ import annotations

from mdc.deploy.values import Resources, Values

APP = "mdc"
NAME_LABEL = "app.kubernetes.io/name"
COMPONENT_LABEL = "app.kubernetes.io/component"
RAY_CLUSTER_LABEL = "mdc.io/ray-cluster"
"""On every pod of one Ray cluster (head and workers): what its NetworkPolicy selects."""

COLLECTOR_CLUSTER = "collector"
API_CLUSTER = "api"
COLLECTOR_HEAD = "collector-head"
COLLECTOR_WORKER = "collector-worker"
API_HEAD = "api-head"
API_WORKER = "api-worker"
GATEWAY = "gateway"

COLLECTOR_CONTAINER = "collector"
"""The container running `mdc run`: the one with the collector's probes."""
CONFIG_DIR = "/etc/mdc"
CONFIG_FILE = "collector.toml"
SHM_VOLUME = "dshm"
RAY_TMP = "/tmp/ray"
API_KEY_HASHES_ENV = "MDC_API_KEY_HASHES"


def labels(component: str, ray_cluster: str | None = None) -> dict[str, str]:
    found = {NAME_LABEL: APP, COMPONENT_LABEL: component}
    return {**found, RAY_CLUSTER_LABEL: ray_cluster} if ray_cluster else found


def selector(component: str) -> dict[str, str]:
    return {NAME_LABEL: APP, COMPONENT_LABEL: component}


def metadata(name: str, values: Values, component: str) -> dict:
    return {"name": name, "namespace": values.namespace, "labels": labels(component)}


def resources(wanted: Resources) -> dict:
    """Requests equal to limits: Guaranteed QoS, and Ray sizes its object store from them."""
    amounts = {"cpu": wanted.cpu, "memory": wanted.memory}
    return {"requests": dict(amounts), "limits": dict(amounts)}


def container_security() -> dict:
    return {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}


def pod_security(values: Values) -> dict:
    """Pod-wide: every container (also ones KubeRay injects) runs as this non-root user."""
    security = values.security
    return {
        "runAsNonRoot": True,
        "runAsUser": security.run_as_user,
        "runAsGroup": security.run_as_group,
        "fsGroup": security.fs_group,
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def container(name: str, values: Values, wanted: Resources) -> dict:
    """The keys every container has; callers add command, ports, probes, mounts."""
    return {
        "name": name,
        "image": values.image.reference,
        "imagePullPolicy": values.image.pull_policy,
        "resources": resources(wanted),
        "securityContext": container_security(),
    }


def pod_spec(values: Values, containers: list[dict], volumes: list[dict]) -> dict:
    return {"securityContext": pod_security(values), "containers": containers, "volumes": volumes}


def ray_volumes() -> list[dict]:
    """The object store lives in /dev/shm (a Memory emptyDir: the runtime's 64 MiB is too small);
    /tmp/ray holds the session, shared with a driver container in the same pod."""
    return [
        {"name": SHM_VOLUME, "emptyDir": {"medium": "Memory"}},
        {"name": "ray-tmp", "emptyDir": {}},
    ]


def ray_mounts() -> list[dict]:
    return [
        {"name": SHM_VOLUME, "mountPath": "/dev/shm"},
        {"name": "ray-tmp", "mountPath": RAY_TMP},
    ]


def secret_env(name: str, secret: str, key: str | None = None) -> dict:
    """An env var read from a Secret at start: the manifest holds the Secret's name only."""
    return {"name": name, "valueFrom": {"secretKeyRef": {"name": secret, "key": key or name}}}


def api_key_hashes_env(values: Values) -> dict:
    return secret_env(API_KEY_HASHES_ENV, values.secrets.api_key_hashes)


def http_probe(path: str, port: str, period_s: int, failures: int) -> dict:
    return {
        "httpGet": {"path": path, "port": port},
        "periodSeconds": period_s,
        "timeoutSeconds": 5,
        "failureThreshold": failures,
    }


def http_probes(live: str, ready: str, port: str, startup_budget_s: int) -> dict:
    """Startup gives a slow start (Ray, models) `startup_budget_s`; liveness uses `live`, which
    must not depend on venues: an outage would otherwise restart every pod."""
    return {
        "startupProbe": http_probe(live, port, 10, startup_budget_s // 10),
        "readinessProbe": http_probe(ready, port, 10, 3),
        "livenessProbe": http_probe(live, port, 20, 3),
    }


def port(name: str, number: int) -> dict:
    return {"name": name, "containerPort": number, "protocol": "TCP"}
