"""The typed, documented values `mdc deploy k8s` renders from (pure: text in, values out).

Every field carries its documentation as `Meta(description=...)`, so the committed
`deploy/k8s/values.yaml` is generated with one comment per key and cannot drift from the code.
A values file only overrides: a missing key takes its default, an unknown key or a wrong type is a
`ValuesError` naming the key, so a typo never renders a cluster that silently ignores it.
"""

from __future__ import annotations

import re
import typing
from typing import Annotated, Any

import msgspec
import yaml
from msgspec import Meta

from mdc.errors import ConfigError


class ValuesError(ConfigError):
    """A values file that does not match `Values`: the message names the key."""


def doc(text: str) -> Meta:
    """A field's documentation: what it is, and why it has its default."""
    return Meta(description=text)


class _Strict(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Base of every values section: immutable, keyword-only, unknown keys refused."""


class Image(_Strict):
    repository: Annotated[str, doc("image with mdc and Ray installed (the same for every pod)")] = (
        "ghcr.io/example/mdc"
    )
    tag: Annotated[str, doc("pinned tag or sha256 digest; never latest")] = "0.1.0"
    pull_policy: Annotated[str, doc("imagePullPolicy of every container")] = "IfNotPresent"

    def __post_init__(self) -> None:
        if not self.tag or self.tag == "latest":
            raise ValueError("tag must pin a version (not empty, not latest)")

    @property
    def reference(self) -> str:
        separator = "@" if self.tag.startswith("sha256:") else ":"
        return f"{self.repository}{separator}{self.tag}"


class Resources(_Strict):
    cpu: Annotated[str, doc("CPU request and limit (equal: Guaranteed QoS)")] = "1"
    memory: Annotated[str, doc("memory request and limit (Ray needs them equal)")] = "2Gi"


class WorkerGroup(_Strict):
    min_replicas: Annotated[int, doc("fewest worker pods the Ray autoscaler keeps")] = 1
    max_replicas: Annotated[int, doc("most worker pods the Ray autoscaler starts")] = 4
    min_available: Annotated[int, doc("PodDisruptionBudget: workers kept during drains")] = 1
    resources: Annotated[Resources, doc("each worker pod's Ray container")] = Resources(
        cpu="2", memory="4Gi"
    )

    def __post_init__(self) -> None:
        if not 0 <= self.min_replicas <= self.max_replicas:
            raise ValueError("need 0 <= min_replicas <= max_replicas")
        if not 0 <= self.min_available <= self.min_replicas:
            raise ValueError("need 0 <= min_available <= min_replicas")


class Venue(_Strict):
    name: Annotated[str, doc("venue module name (binance, coinbase, kraken, alpaca)")]
    symbols: Annotated[list[str], doc("normalized symbols to collect (BASE-QUOTE or ticker)")]
    key_env: Annotated[
        str | None, doc("env var holding the venue key, filled from the venue_keys Secret")
    ] = None
    secret_env: Annotated[
        str | None, doc("env var holding the venue secret, filled from the venue_keys Secret")
    ] = None

    def __post_init__(self) -> None:
        if (self.key_env is None) != (self.secret_env is None):
            raise ValueError("set both key_env and secret_env, or neither")


DEFAULT_VENUES = [
    Venue(name="binance", symbols=["BTC-USDT", "ETH-USDT"]),
    Venue(name="coinbase", symbols=["BTC-USD", "ETH-USD"]),
    Venue(name="kraken", symbols=["BTC-USD", "ETH-USD"]),
    Venue(
        name="alpaca",
        symbols=["AAPL", "MSFT"],
        key_env="APCA_API_KEY_ID",
        secret_env="APCA_API_SECRET_KEY",
    ),
]


class Collector(_Strict):
    head: Annotated[Resources, doc("Ray head container: GCS, the writer and book actors")] = (
        Resources(cpu="2", memory="8Gi")
    )
    driver: Annotated[Resources, doc("`mdc run` container beside the head (supervisor, gRPC)")] = (
        Resources(cpu="1", memory="2Gi")
    )
    workers: Annotated[WorkerGroup, doc("provider worker pods (advertise mdc_provider)")] = (
        WorkerGroup(min_replicas=2, max_replicas=4)
    )
    providers_per_worker: Annotated[int, doc("mdc_provider slots each worker advertises")] = 4
    venues: Annotated[list[Venue], doc("venues collected live (the ConfigMap's TOML)")] = (
        msgspec.field(default_factory=lambda: list(DEFAULT_VENUES))
    )


class Api(_Strict):
    import_path: Annotated[
        str, doc("Ray Serve application builder (module:function taking the args dict)")
    ] = "serve.deployment:app_builder"
    head: Annotated[Resources, doc("Ray head of the API cluster (num-cpus 0: no replicas)")] = (
        Resources(cpu="1", memory="4Gi")
    )
    workers: Annotated[WorkerGroup, doc("worker pods running Serve replicas")] = WorkerGroup()
    min_replicas: Annotated[int, doc("fewest Serve replicas of the prediction ingress")] = 1
    max_replicas: Annotated[int, doc("most Serve replicas (Serve autoscaling in between)")] = 4
    target_ongoing_requests: Annotated[float, doc("Serve autoscaling target per replica")] = 8.0
    replica_cpus: Annotated[float, doc("Ray CPUs each Serve replica reserves")] = 0.5

    def __post_init__(self) -> None:
        if not 1 <= self.min_replicas <= self.max_replicas:
            raise ValueError("need 1 <= min_replicas <= max_replicas")


class Gateway(_Strict):
    resources: Annotated[Resources, doc("each gateway pod (a stateless `mdc serve`)")] = Resources(
        cpu="1", memory="2Gi"
    )
    min_replicas: Annotated[int, doc("HPA floor")] = 2
    max_replicas: Annotated[int, doc("HPA ceiling")] = 10
    min_available: Annotated[int, doc("PodDisruptionBudget: gateway pods kept during drains")] = 1
    events_per_second_per_replica: Annotated[
        str, doc("HPA target: collector events stored per second per gateway pod (quantity)")
    ] = "5k"

    def __post_init__(self) -> None:
        if not 1 <= self.min_replicas <= self.max_replicas:
            raise ValueError("need 1 <= min_replicas <= max_replicas")
        if not 0 <= self.min_available <= self.min_replicas:
            raise ValueError("need 0 <= min_available <= min_replicas")


class Ports(_Strict):
    api: Annotated[int, doc("Ray Serve HTTP (prediction API)")] = 8000
    grpc: Annotated[int, doc("the collector's gRPC market data (mdc.v1.MarketDataService)")] = 50051
    metrics: Annotated[int, doc("the collector's /metrics, /livez, /readyz server")] = 9090
    gateway: Annotated[int, doc("the gateway's HTTP port")] = 8080


class RayPorts(_Strict):
    """Fixed Ray ports: a NetworkPolicy can only allow ports it knows."""

    gcs: Annotated[int, doc("GCS server (ray start --port)")] = 6379
    node_manager: Annotated[int, doc("raylet")] = 6380
    object_manager: Annotated[int, doc("object manager (object transfers between nodes)")] = 6381
    runtime_env_agent: Annotated[int, doc("runtime env agent")] = 6382
    dashboard_agent_grpc: Annotated[int, doc("dashboard agent gRPC")] = 6383
    dashboard_agent_http: Annotated[int, doc("dashboard agent HTTP (KubeRay health checks)")] = (
        52365
    )
    dashboard: Annotated[int, doc("dashboard (KubeRay submits Serve configs here)")] = 8265
    metrics_export: Annotated[int, doc("Ray's own Prometheus metrics")] = 8080
    min_worker: Annotated[int, doc("lowest port of Ray worker processes")] = 10002
    max_worker: Annotated[int, doc("highest port of Ray worker processes")] = 10999


class Storage(_Strict):
    size: Annotated[str, doc("PersistentVolumeClaim size of the event store")] = "500Gi"
    storage_class: Annotated[str | None, doc("storageClassName (null: the cluster default)")] = None
    mount_path: Annotated[str, doc("where the store is mounted (the collector's data_dir)")] = (
        "/data"
    )


class Secrets(_Strict):
    """Names only: the values are created with kubectl, never rendered."""

    venue_keys: Annotated[str, doc("Secret whose keys are the venues' key_env/secret_env")] = (
        "mdc-venue-keys"
    )
    api_key_hashes: Annotated[str, doc("Secret with MDC_API_KEY_HASHES (sha256:<hex>,...)")] = (
        "mdc-api-key-hashes"
    )


class Network(_Strict):
    ingress_namespace: Annotated[str, doc("namespace of the ingress controller")] = "ingress-nginx"
    monitoring_namespace: Annotated[str, doc("namespace of Prometheus and its adapter")] = (
        "monitoring"
    )
    operator_namespace: Annotated[str, doc("namespace of the KubeRay operator")] = "kuberay-system"
    venue_egress_ports: Annotated[list[int], doc("TCP ports of the venues' endpoints")] = (
        msgspec.field(default_factory=lambda: [443])
    )
    venue_egress_cidr: Annotated[str, doc("addresses the venues may have")] = "0.0.0.0/0"
    kube_api_ports: Annotated[list[int], doc("API server ports (the Ray autoscaler scales)")] = (
        msgspec.field(default_factory=lambda: [443, 6443])
    )


class Security(_Strict):
    run_as_user: Annotated[int, doc("non-root UID of every container")] = 1000
    run_as_group: Annotated[int, doc("GID of every container")] = 1000
    fs_group: Annotated[int, doc("group owning mounted volumes (the store)")] = 1000

    def __post_init__(self) -> None:
        if self.run_as_user == 0:
            raise ValueError("run_as_user must not be 0 (root)")


class Monitoring(_Strict):
    service_monitor_labels: Annotated[
        dict[str, str], doc("labels the Prometheus Operator selects ServiceMonitors by")
    ] = msgspec.field(default_factory=lambda: {"release": "kube-prometheus-stack"})
    scrape_interval: Annotated[str, doc("how often Prometheus scrapes the collector")] = "15s"


class Values(_Strict):
    namespace: Annotated[str, doc("namespace of every mdc object")] = "mdc"
    ray_version: Annotated[str, doc("Ray version in the image (pyproject pins 2.60.*)")] = "2.60.0"
    image: Annotated[Image, doc("container image")] = Image()
    autoscaler: Annotated[Resources, doc("KubeRay's Ray autoscaler sidecar")] = Resources(
        cpu="500m", memory="512Mi"
    )
    collector: Annotated[Collector, doc("the collector's Ray cluster")] = Collector()
    api: Annotated[Api, doc("the prediction API's RayService")] = Api()
    gateway: Annotated[Gateway, doc("the stateless gateway Deployment (the one HPA)")] = Gateway()
    ports: Annotated[Ports, doc("service ports")] = Ports()
    ray_ports: Annotated[RayPorts, doc("Ray's ports inside each cluster")] = RayPorts()
    storage: Annotated[Storage, doc("the event store's volume")] = Storage()
    secrets: Annotated[Secrets, doc("Secret names (never values)")] = Secrets()
    network: Annotated[Network, doc("NetworkPolicy peers and ports")] = Network()
    security: Annotated[Security, doc("pod security context")] = Security()
    monitoring: Annotated[Monitoring, doc("Prometheus Operator integration")] = Monitoring()


_AT = re.compile(r"^(?P<what>.*?)(?: - at `\$(?P<path>[^`]*)`)?$")
_UNKNOWN = re.compile(r"^Object contains unknown field `(?P<key>[^`]*)`$")
_MISSING = re.compile(r"^Object missing required field `(?P<key>[^`]*)`$")
_EXPECTED = re.compile(r"^Expected `(?P<want>[^`]*)`, got `(?P<got>[^`]*)`$")


def parse_values(text: str, where: str) -> Values:
    """`text` (YAML) as Values, or a one-line ValuesError naming `where` and the key."""
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ValuesError(f"{where}: not valid YAML: {_one_line(exc)}") from exc
    try:
        return msgspec.convert(raw or {}, Values)
    except msgspec.ValidationError as exc:
        raise ValuesError(f"{where}: {_key_message(str(exc))}") from exc


def _one_line(exc: yaml.YAMLError) -> str:
    return " ".join(str(exc).split())


def _key_message(error: str) -> str:
    """msgspec's `Expected `str`, got `int` - at `$.a.b`` as `a.b: expected str, got int`."""
    match = _AT.match(error)
    what, path = (match["what"], (match["path"] or "").lstrip(".")) if match else (error, "")
    for pattern, problem in ((_UNKNOWN, "unknown key"), (_MISSING, "missing key")):
        if named := pattern.match(what):
            return f"{problem} {path + '.' if path else ''}{named['key']}"
    if expected := _EXPECTED.match(what):
        what = f"expected {expected['want']}, got {expected['got']}"
    return f"{path or '(top level)'}: {what}"


def field_docs(struct: type[msgspec.Struct]) -> dict[str, str]:
    """Each field's documentation (empty when a field has none: a test forbids that)."""
    docs = {}
    for field in msgspec.structs.fields(struct):
        metas = [m for m in typing.get_args(field.type)[1:] if isinstance(m, Meta)]
        docs[field.name] = metas[0].description if metas else ""
    return docs


def documented_yaml(values: Values) -> str:
    """`values` as YAML with each key's documentation as a comment above it."""
    lines = ["# Values of `mdc deploy k8s --values FILE`: every key is optional (defaults shown)."]
    _emit(values, 0, lines)
    return "\n".join(lines) + "\n"


def _emit(struct: msgspec.Struct, depth: int, lines: list[str], *, item: int = -1) -> None:
    """One struct's fields; as list item `item` its first key gets the `- ` and only the first
    item is commented (the same keys repeat)."""
    indent = "  " * depth
    for position, (name, text) in enumerate(field_docs(type(struct)).items()):
        value = getattr(struct, name)
        if item <= 0:
            lines.append(f"{indent}# {text}")
        key_indent = indent[:-2] + ("- " if position == 0 else "  ") if item >= 0 else indent
        if isinstance(value, msgspec.Struct):
            lines.append(f"{key_indent}{name}:")
            _emit(value, depth + 1, lines)
        elif isinstance(value, list) and value and isinstance(value[0], msgspec.Struct):
            lines.append(f"{key_indent}{name}:")
            for index, element in enumerate(value):
                _emit(element, depth + 2, lines, item=index)
        else:
            lines.append(key_indent + _plain(name, msgspec.to_builtins(value)))


def _plain(name: str, value: Any) -> str:
    """`name: value` on one line (flow style for lists and maps)."""
    text = yaml.safe_dump(value, default_flow_style=True, width=1000)
    return f"{name}: {text.removesuffix(chr(10) + '...' + chr(10)).strip()}"
