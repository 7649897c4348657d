"""The two KubeRay objects: the collector's RayCluster and the prediction API's RayService.

Why the collector is a RayCluster with its driver beside the head (and not a RayJob):
`mdc run --address auto` is a long-running driver that never finishes, owns the supervisor,
the gRPC server and the /livez and /readyz probes, and must come back by itself when it dies.
A RayJob models a batch run: its driver is a Kubernetes Job whose end decides the RayJob's end,
restarting it means a new submission (or a new cluster), and Kubernetes cannot probe it. As a
second container of the head pod the driver gets what a service needs: the kubelet restarts it,
probes decide its liveness and readiness, it shares the head's network and Ray session
(/tmp/ray), and it sits on the node with the event store volume, like the writer (`mdc_data`).

The API is a RayService: Serve applications are what it is for (zero-downtime upgrades,
health-based Service endpoints). Its cluster is separate, so an API upgrade that replaces the
cluster never touches collection.
"""

from __future__ import annotations

import json
import shlex

import yaml

from mdc.deploy.pods import (
    API_CLUSTER,
    API_HEAD,
    API_WORKER,
    COLLECTOR_CLUSTER,
    COLLECTOR_CONTAINER,
    COLLECTOR_HEAD,
    COLLECTOR_WORKER,
    CONFIG_DIR,
    CONFIG_FILE,
    RAY_TMP,
    api_key_hashes_env,
    container,
    container_security,
    http_probes,
    labels,
    metadata,
    pod_spec,
    port,
    ray_mounts,
    ray_volumes,
    resources,
    secret_env,
)
from mdc.deploy.values import Resources, Values, WorkerGroup

RAY_API = "ray.io/v1"
COLLECTOR = "mdc-collector"
API = "mdc-api"
GRPC_SERVICE = f"{COLLECTOR}-grpc"
DATA_CLAIM = "mdc-data"
CONFIG_MAP = f"{COLLECTOR}-config"
WRITER_RESOURCE = "mdc_data"
"""actors.supervisor.WRITER_RESOURCE (a test keeps them equal; mdc cannot import actors)."""
PROVIDER_RESOURCE = "mdc_provider"
"""actors.supervisor.PROVIDER_RESOURCE."""
SERVE_APP = "mdc"
SERVE_DEPLOYMENT = "PredictionIngress"
DRAIN_GRACE_S = 120
"""On SIGTERM `mdc run` drains every queue and fsyncs before it exits."""
RAY_HEAD = "ray-head"
RAY_WORKER = "ray-worker"
NO_TELEMETRY = {"name": "RAY_USAGE_STATS_ENABLED", "value": "0"}


def _escaped_resources(amounts: dict[str, int]) -> str:
    """KubeRay pastes rayStartParams into a shell line: JSON in escaped double quotes."""
    return '"' + json.dumps(amounts).replace('"', '\\"') + '"'


def start_params(values: Values, custom: dict[str, int] | None = None) -> dict[str, str]:
    """Fixed ports (the NetworkPolicies allow exactly these) plus custom resources."""
    ray = values.ray_ports
    params = {
        "node-manager-port": str(ray.node_manager),
        "object-manager-port": str(ray.object_manager),
        "runtime-env-agent-port": str(ray.runtime_env_agent),
        "dashboard-agent-grpc-port": str(ray.dashboard_agent_grpc),
        "dashboard-agent-listen-port": str(ray.dashboard_agent_http),
        "metrics-export-port": str(ray.metrics_export),
        "min-worker-port": str(ray.min_worker),
        "max-worker-port": str(ray.max_worker),
    }
    return {**params, "resources": _escaped_resources(custom)} if custom else params


def head_params(values: Values, custom: dict[str, int] | None = None) -> dict[str, str]:
    return {"dashboard-host": "0.0.0.0", "port": str(values.ray_ports.gcs)} | start_params(
        values, custom
    )


def ray_container(
    name: str, values: Values, wanted: Resources, ports: list[dict], env: list[dict]
) -> dict:
    exposed = {"ports": ports} if ports else {}
    return {
        **container(name, values, wanted),
        **exposed,
        "env": [NO_TELEMETRY, *env],
        "volumeMounts": ray_mounts(),
    }


def head_ports(values: Values) -> list[dict]:
    ray = values.ray_ports
    return [
        port("gcs-server", ray.gcs),
        port("dashboard", ray.dashboard),
        port("metrics", ray.metrics_export),
    ]


def worker_group(
    name: str,
    values: Values,
    group: WorkerGroup,
    ray_worker: dict,
    *,
    custom: dict[str, int] | None = None,
    pod_labels: dict[str, str],
) -> dict:
    """Workers restart never: the Ray autoscaler replaces them (and counts them) itself."""
    spec = pod_spec(values, [ray_worker], ray_volumes())
    return {
        "groupName": name,
        "replicas": group.min_replicas,
        "minReplicas": group.min_replicas,
        "maxReplicas": group.max_replicas,
        "rayStartParams": start_params(values, custom),
        "template": {
            "metadata": {"labels": pod_labels},
            "spec": {**spec, "restartPolicy": "Never"},
        },
    }


def cluster_spec(values: Values, head_group: dict, workers: list[dict]) -> dict:
    """In-tree autoscaling: the Ray autoscaler owns worker counts (so no HPA on Ray pods)."""
    return {
        "rayVersion": values.ray_version,
        "enableInTreeAutoscaling": True,
        "autoscalerOptions": {
            "upscalingMode": "Default",
            "idleTimeoutSeconds": 60,
            "imagePullPolicy": values.image.pull_policy,
            "resources": resources(values.autoscaler),
            "securityContext": container_security(),
        },
        "headGroupSpec": head_group,
        "workerGroupSpecs": workers,
    }


def collector_cluster(values: Values) -> dict:
    head = {
        "rayStartParams": head_params(values, {WRITER_RESOURCE: 1}),
        "template": {
            "metadata": {"labels": labels(COLLECTOR_HEAD, COLLECTOR_CLUSTER)},
            "spec": {
                **pod_spec(values, _collector_head_containers(values), _collector_volumes()),
                "terminationGracePeriodSeconds": DRAIN_GRACE_S,
            },
        },
    }
    collector = values.collector
    # No venue keys here: the driver reads them and hands them to the providers.
    worker = ray_container(RAY_WORKER, values, collector.workers.resources, [], [])
    providers = worker_group(
        "providers",
        values,
        collector.workers,
        worker,
        custom={PROVIDER_RESOURCE: collector.providers_per_worker},
        pod_labels=labels(COLLECTOR_WORKER, COLLECTOR_CLUSTER),
    )
    return {
        "apiVersion": RAY_API,
        "kind": "RayCluster",
        "metadata": metadata(COLLECTOR, values, "collector"),
        "spec": cluster_spec(values, head, [providers]),
    }


def _collector_head_containers(values: Values) -> list[dict]:
    """Container 0 is Ray's (KubeRay's convention); the driver is the second."""
    data_mount = {"name": DATA_CLAIM, "mountPath": values.storage.mount_path}
    ray_head = ray_container(RAY_HEAD, values, values.collector.head, head_ports(values), [])
    ray_head["volumeMounts"] = [*ray_head["volumeMounts"], data_mount]
    return [ray_head, _driver(values, data_mount)]


def _driver(values: Values, data_mount: dict) -> dict:
    ports = values.ports
    run = [
        "mdc", "run", "--address", "auto",
        "--config", f"{CONFIG_DIR}/{CONFIG_FILE}",
        "--no-api",
        "--metrics-host", "0.0.0.0", "--metrics-port", str(ports.metrics),
        "--grpc-host", "0.0.0.0", "--grpc-port", str(ports.grpc),
    ]  # fmt: skip
    wait_for_head = f"until [ -e {RAY_TMP}/ray_current_cluster ]; do sleep 1; done"
    config_mount = {"name": "config", "mountPath": CONFIG_DIR, "readOnly": True}
    return {
        **container(COLLECTOR_CONTAINER, values, values.collector.driver),
        "command": ["/bin/sh", "-c", f"{wait_for_head}; exec {shlex.join(run)}"],
        "ports": [port("grpc", ports.grpc), port("metrics", ports.metrics)],
        "env": [*_venue_env(values), api_key_hashes_env(values)],
        **http_probes("/livez", "/readyz", "metrics", startup_budget_s=600),
        "volumeMounts": [*ray_mounts(), data_mount, config_mount],
    }


def _venue_env(values: Values) -> list[dict]:
    """Venue keys from the Secret, under the env names the TOML config points to."""
    names = [
        env
        for venue in values.collector.venues
        for env in (venue.key_env, venue.secret_env)
        if env is not None
    ]
    return [secret_env(name, values.secrets.venue_keys) for name in names]


def _collector_volumes() -> list[dict]:
    return [
        *ray_volumes(),
        {"name": DATA_CLAIM, "persistentVolumeClaim": {"claimName": DATA_CLAIM}},
        {"name": "config", "configMap": {"name": CONFIG_MAP}},
    ]


def api_service(values: Values) -> dict:
    api, serve_port = values.api, port("serve", values.ports.api)
    head_container = ray_container(
        RAY_HEAD, values, api.head, head_ports(values), [api_key_hashes_env(values)]
    )
    head = {
        "rayStartParams": {**head_params(values), "num-cpus": "0"},
        "template": {
            "metadata": {"labels": labels(API_HEAD, API_CLUSTER)},
            "spec": pod_spec(values, [head_container], ray_volumes()),
        },
    }
    worker = ray_container(
        RAY_WORKER, values, api.workers.resources, [serve_port], [api_key_hashes_env(values)]
    )
    serve_group = worker_group(
        "serve", values, api.workers, worker, pod_labels=labels(API_WORKER, API_CLUSTER)
    )
    return {
        "apiVersion": RAY_API,
        "kind": "RayService",
        "metadata": metadata(API, values, "api"),
        "spec": {
            "serveConfigV2": serve_config(values),
            "serveService": _serve_service(values),
            "excludeHeadPodFromServeSvc": True,
            "upgradeStrategy": {"type": "NewCluster"},
            "rayClusterConfig": cluster_spec(values, head, [serve_group]),
        },
    }


def serve_config(values: Values) -> str:
    """Serve's config file as the YAML string KubeRay expects; the live stream relays from the
    collector's gRPC Service."""
    api = values.api
    config = {
        "proxy_location": "EveryNode",
        "http_options": {"host": "0.0.0.0", "port": values.ports.api},
        "applications": [
            {
                "name": SERVE_APP,
                "route_prefix": "/",
                "import_path": api.import_path,
                "args": {"stream_target": f"{GRPC_SERVICE}:{values.ports.grpc}"},
                "deployments": [
                    {
                        "name": SERVE_DEPLOYMENT,
                        "autoscaling_config": {
                            "min_replicas": api.min_replicas,
                            "max_replicas": api.max_replicas,
                            "target_ongoing_requests": api.target_ongoing_requests,
                        },
                        "ray_actor_options": {"num_cpus": api.replica_cpus},
                    }
                ],
            }
        ],
    }
    return yaml.safe_dump(config, sort_keys=False)


def _serve_service(values: Values) -> dict:
    return {
        "metadata": {"name": API, "labels": labels(API_WORKER)},
        "spec": {
            "type": "ClusterIP",
            "ports": [{"name": "serve", "port": values.ports.api, "targetPort": "serve"}],
        },
    }
