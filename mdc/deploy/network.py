"""NetworkPolicies: deny everything in the namespace, then allow exactly what mdc uses.

Ray's ports are fixed by `ray.start_params`, so "Ray traffic" is a known list, allowed only
between pods of the same Ray cluster; Ray's ports never face other namespaces except the KubeRay
operator's (it talks to the dashboard and the dashboard agent).
"""

from __future__ import annotations

from mdc.deploy.pods import (
    API_CLUSTER,
    API_HEAD,
    API_WORKER,
    APP,
    COLLECTOR_CLUSTER,
    COLLECTOR_HEAD,
    COMPONENT_LABEL,
    GATEWAY,
    NAME_LABEL,
    RAY_CLUSTER_LABEL,
    selector,
)
from mdc.deploy.values import Values

NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"


def _policy(name: str, values: Values, pod_selector: dict, rules: dict) -> dict:
    types = [kind for kind in ("Ingress", "Egress") if kind.lower() in rules]
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": name, "namespace": values.namespace, "labels": {NAME_LABEL: APP}},
        "spec": {"podSelector": pod_selector, "policyTypes": types, **rules},
    }


def _tcp(*numbers: int) -> list[dict]:
    return [{"protocol": "TCP", "port": number} for number in numbers]


def _namespace(name: str) -> dict:
    return {"namespaceSelector": {"matchLabels": {NAMESPACE_NAME_LABEL: name}}}


def _pods(component: str) -> dict:
    return {"podSelector": {"matchLabels": selector(component)}}


def _components(*components: str) -> dict:
    expression = {"key": COMPONENT_LABEL, "operator": "In", "values": list(components)}
    return {"matchLabels": {NAME_LABEL: APP}, "matchExpressions": [expression]}


def _ray_ports(values: Values) -> list[dict]:
    ray = values.ray_ports
    workers = {"protocol": "TCP", "port": ray.min_worker, "endPort": ray.max_worker}
    fixed = _tcp(
        ray.gcs,
        ray.node_manager,
        ray.object_manager,
        ray.runtime_env_agent,
        ray.dashboard_agent_grpc,
        ray.dashboard_agent_http,
        ray.dashboard,
        ray.metrics_export,
    )
    return [*fixed, workers]


def network_policies(values: Values) -> list[dict]:
    return [
        _policy("mdc-default-deny", values, {}, {"ingress": [], "egress": []}),
        _dns(values),
        *(_ray_internal(cluster, values) for cluster in (COLLECTOR_CLUSTER, API_CLUSTER)),
        _operator(values),
        _kube_api(values),
        _serve_ingress(values),
        _grpc_ingress(values),
        _gateway_ingress(values),
        _api_to_grpc(values),
        _metrics(values),
        _venues(values),
    ]


def _dns(values: Values) -> dict:
    dns = [{"protocol": protocol, "port": 53} for protocol in ("UDP", "TCP")]
    return _policy("mdc-allow-dns", values, {}, {"egress": [{"ports": dns}]})


def _ray_internal(cluster: str, values: Values) -> dict:
    """GCS, raylets, object managers, agents and workers talk within one Ray cluster only."""
    members = {"matchLabels": {RAY_CLUSTER_LABEL: cluster}}
    peers, ports = [{"podSelector": members}], _ray_ports(values)
    rules = {
        "ingress": [{"from": peers, "ports": ports}],
        "egress": [{"to": peers, "ports": ports}],
    }
    return _policy(f"mdc-ray-{cluster}-internal", values, members, rules)


def _operator(values: Values) -> dict:
    """KubeRay's operator checks health and submits Serve configs over the dashboard."""
    ray = values.ray_ports
    rule = {
        "from": [_namespace(values.network.operator_namespace)],
        "ports": _tcp(ray.dashboard, ray.dashboard_agent_http),
    }
    any_ray = {"matchExpressions": [{"key": RAY_CLUSTER_LABEL, "operator": "Exists"}]}
    return _policy("mdc-allow-kuberay-operator", values, any_ray, {"ingress": [rule]})


def _kube_api(values: Values) -> dict:
    """The Ray autoscaler (a sidecar of each head) scales its cluster through the API server."""
    rule = {"ports": _tcp(*values.network.kube_api_ports)}
    return _policy(
        "mdc-allow-autoscaler-api",
        values,
        _components(COLLECTOR_HEAD, API_HEAD),
        {"egress": [rule]},
    )


def _ingress(name: str, values: Values, component: str, number: int, peers: list[dict]) -> dict:
    rule = {"from": peers, "ports": _tcp(number)}
    return _policy(name, values, {"matchLabels": selector(component)}, {"ingress": [rule]})


def _serve_ingress(values: Values) -> dict:
    peers = [_namespace(values.network.ingress_namespace)]
    return _ingress("mdc-allow-api-http", values, API_WORKER, values.ports.api, peers)


def _grpc_ingress(values: Values) -> dict:
    """Subscribers come through the ingress; the API relays the live stream to WebSockets."""
    peers = [_namespace(values.network.ingress_namespace), _pods(API_WORKER)]
    return _ingress("mdc-allow-collector-grpc", values, COLLECTOR_HEAD, values.ports.grpc, peers)


def _gateway_ingress(values: Values) -> dict:
    peers = [_namespace(values.network.ingress_namespace)]
    return _ingress("mdc-allow-gateway-http", values, GATEWAY, values.ports.gateway, peers)


def _api_to_grpc(values: Values) -> dict:
    rule = {"to": [_pods(COLLECTOR_HEAD)], "ports": _tcp(values.ports.grpc)}
    api = {"matchLabels": selector(API_WORKER)}
    return _policy("mdc-allow-api-to-collector-grpc", values, api, {"egress": [rule]})


def _metrics(values: Values) -> dict:
    peers = [_namespace(values.network.monitoring_namespace)]
    return _ingress("mdc-allow-metrics", values, COLLECTOR_HEAD, values.ports.metrics, peers)


def _venues(values: Values) -> dict:
    """Providers (workers) and the driver reach venues' websockets and REST over TLS."""
    network = values.network
    rule = {
        "to": [{"ipBlock": {"cidr": network.venue_egress_cidr}}],
        "ports": _tcp(*network.venue_egress_ports),
    }
    collector = {"matchLabels": {RAY_CLUSTER_LABEL: COLLECTOR_CLUSTER}}
    return _policy("mdc-allow-venue-egress", values, collector, {"egress": [rule]})
