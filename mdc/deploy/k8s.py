"""`render(values)`: every Kubernetes object of an mdc deployment, in a stable order.

Pure: values in, plain dicts out (the command writes them). The Ray parts are in `ray.py`, the
NetworkPolicies in `network.py`; this module adds the namespace, the collector's config, the
store's volume, Services, PodDisruptionBudgets, the stateless gateway with its HPA, and the
Prometheus Operator / Prometheus Adapter objects that feed that HPA.
"""

from __future__ import annotations

import json

import yaml

from mdc.deploy.network import network_policies
from mdc.deploy.pods import (
    API_WORKER,
    COLLECTOR_HEAD,
    COLLECTOR_WORKER,
    GATEWAY,
    api_key_hashes_env,
    container,
    http_probes,
    metadata,
    pod_spec,
    port,
    ray_mounts,
    ray_volumes,
    selector,
)
from mdc.deploy.ray import (
    COLLECTOR,
    CONFIG_MAP,
    DATA_CLAIM,
    GRPC_SERVICE,
    api_service,
    collector_cluster,
)
from mdc.deploy.values import Values

GATEWAY_NAME = "mdc-gateway"
METRICS_SERVICE = f"{COLLECTOR}-metrics"
METRICS_COMPONENT = "collector-metrics"
STORED_EVENTS_SERIES = "mdc_stored_events_total"
"""actors/metrics.py `Metrics.stored` (label outcome=stored|duplicate): events made durable."""
EVENTS_METRIC = "mdc_stored_events_per_second"
"""The External metric the adapter derives from STORED_EVENTS_SERIES for the HPA."""
ADAPTER_RULES = "mdc-prometheus-adapter-rules"


def render(values: Values) -> list[dict]:
    """Every object, in apply order: namespace and config first, policies last."""
    return [
        _namespace(values),
        _collector_config(values),
        _data_claim(values),
        collector_cluster(values),
        api_service(values),
        _gateway(values),
        _service(GRPC_SERVICE, values, COLLECTOR_HEAD, ("grpc", values.ports.grpc)),
        _service(
            METRICS_SERVICE,
            values,
            COLLECTOR_HEAD,
            ("metrics", values.ports.metrics),
            own=METRICS_COMPONENT,
        ),
        _service(GATEWAY_NAME, values, GATEWAY, ("http", values.ports.gateway)),
        _gateway_autoscaler(values),
        # The head is a singleton holding the store: a drain waits for an operator to move it.
        _budget(f"{COLLECTOR}-head", values, COLLECTOR_HEAD, 1),
        _budget(
            f"{COLLECTOR}-providers",
            values,
            COLLECTOR_WORKER,
            values.collector.workers.min_available,
        ),
        _budget("mdc-api-serve", values, API_WORKER, values.api.workers.min_available),
        _budget(GATEWAY_NAME, values, GATEWAY, values.gateway.min_available),
        *network_policies(values),
        _service_monitor(values),
        _adapter_rules(values),
    ]


def _namespace(values: Values) -> dict:
    """Baseline is enforced (KubeRay may inject containers); restricted is what ours meet."""
    pod_security = {
        f"pod-security.kubernetes.io/{mode}": level
        for mode, level in (
            ("enforce", "baseline"),
            ("audit", "restricted"),
            ("warn", "restricted"),
        )
    }
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": values.namespace, "labels": pod_security},
    }


def collector_toml(values: Values) -> str:
    """The collector's TOML config (mdc.config): live venues, key env names, the store's path.
    JSON strings and arrays of strings are valid TOML, so json.dumps quotes them."""
    lines = [
        "# Rendered by `mdc deploy k8s`: keys come from the environment (a Secret), never here.",
        f"data_dir = {json.dumps(values.storage.mount_path)}",
    ]
    for venue in values.collector.venues:
        lines += ["", f"[venues.{venue.name}]", 'source = "live"']
        lines.append(f"symbols = {json.dumps(venue.symbols)}")
        if venue.key_env is not None:
            lines.append(f"key_env = {json.dumps(venue.key_env)}")
            lines.append(f"secret_env = {json.dumps(venue.secret_env)}")
    return "\n".join(lines) + "\n"


def _collector_config(values: Values) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": metadata(CONFIG_MAP, values, "collector"),
        "data": {"collector.toml": collector_toml(values)},
    }


def _data_claim(values: Values) -> dict:
    """ReadWriteOnce: one writer, on the head pod that advertises `mdc_data`."""
    storage = values.storage
    spec: dict = {
        "accessModes": ["ReadWriteOnce"],
        "resources": {"requests": {"storage": storage.size}},
    }
    if storage.storage_class is not None:
        spec["storageClassName"] = storage.storage_class
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": metadata(DATA_CLAIM, values, "collector"),
        "spec": spec,
    }


def _gateway(values: Values) -> dict:
    """Stateless `mdc serve` pods (a local Ray each, hence /dev/shm): models from the image,
    keys from the Secret, nothing kept; so an HPA may add and remove them freely."""
    gateway = values.gateway
    serve = [
        "mdc", "serve", "--host", "0.0.0.0", "--port", str(values.ports.gateway),
        "--grpc-port", "0", "--num-cpus", "1",
    ]  # fmt: skip
    main = {
        **container("gateway", values, gateway.resources),
        "command": serve,
        "ports": [port("http", values.ports.gateway)],
        "env": [api_key_hashes_env(values)],
        **http_probes("/healthz", "/healthz", "http", startup_budget_s=300),
        "volumeMounts": ray_mounts(),
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": metadata(GATEWAY_NAME, values, GATEWAY),
        "spec": {
            "selector": {"matchLabels": selector(GATEWAY)},
            "template": {
                "metadata": {"labels": selector(GATEWAY)},
                "spec": pod_spec(values, [main], ray_volumes()),
            },
        },
    }


def _service(
    name: str, values: Values, component: str, named_port: tuple[str, int], own: str | None = None
) -> dict:
    """A ClusterIP Service onto `component`'s pods, labelled `own` (default: `component`)."""
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": metadata(name, values, own or component),
        "spec": {
            "type": "ClusterIP",
            "selector": selector(component),
            "ports": [{"name": named_port[0], "port": named_port[1], "targetPort": named_port[0]}],
        },
    }


def _gateway_autoscaler(values: Values) -> dict:
    """Scales the gateway with the market's event rate (what its subscribers receive)."""
    gateway = values.gateway
    target = {"type": "AverageValue", "averageValue": gateway.events_per_second_per_replica}
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": metadata(GATEWAY_NAME, values, GATEWAY),
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": GATEWAY_NAME},
            "minReplicas": gateway.min_replicas,
            "maxReplicas": gateway.max_replicas,
            "metrics": [
                {
                    "type": "External",
                    "external": {"metric": {"name": EVENTS_METRIC}, "target": target},
                }
            ],
            "behavior": {"scaleDown": {"stabilizationWindowSeconds": 300}},
        },
    }


def _budget(name: str, values: Values, component: str, min_available: int) -> dict:
    """An integer minAvailable: RayCluster has no scale subresource, so "50%" cannot resolve."""
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": metadata(name, values, component),
        "spec": {"minAvailable": min_available, "selector": {"matchLabels": selector(component)}},
    }


def _service_monitor(values: Values) -> dict:
    monitoring = values.monitoring
    meta = metadata(COLLECTOR, values, METRICS_COMPONENT)
    meta["labels"] = {**meta["labels"], **monitoring.service_monitor_labels}
    endpoint = {"port": "metrics", "path": "/metrics", "interval": monitoring.scrape_interval}
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "ServiceMonitor",
        "metadata": meta,
        "spec": {
            "selector": {"matchLabels": selector(METRICS_COMPONENT)},
            "namespaceSelector": {"matchNames": [values.namespace]},
            "endpoints": [endpoint],
        },
    }


def adapter_rules(values: Values) -> dict:
    """Prometheus Adapter's external rule: events stored per second in the namespace, from the
    collector's counter (duplicates excluded: they cost the gateway nothing)."""
    query = 'sum(rate(<<.Series>>{<<.LabelMatchers>>,outcome="stored"}[1m])) by (<<.GroupBy>>)'
    rule = {
        "seriesQuery": f'{STORED_EVENTS_SERIES}{{namespace="{values.namespace}"}}',
        "resources": {"overrides": {"namespace": {"resource": "namespace"}}},
        "name": {"matches": f"^{STORED_EVENTS_SERIES}$", "as": EVENTS_METRIC},
        "metricsQuery": query,
    }
    return {"externalRules": [rule]}


def _adapter_rules(values: Values) -> dict:
    """The adapter reads one config file: merge these rules into it (for the Helm chart:
    `rules.external`), or point the adapter's --config at this ConfigMap's file."""
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": ADAPTER_RULES,
            "namespace": values.network.monitoring_namespace,
            "labels": selector(METRICS_COMPONENT),
        },
        "data": {"config.yaml": yaml.safe_dump(adapter_rules(values), sort_keys=False)},
    }
