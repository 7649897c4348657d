"""The prediction API as a Ray Serve application: one FastAPI ingress that also does inference.

Measured on 2 cores (ray-notes §9), every handle hop costs about 2.3x and `@serve.batch` gains
little, so the ingress replica loads the models itself and predicts in-process; access logs are
off. The app is built in the replica (`@serve.ingress()` + `__serve_build_asgi_app__`), because
ONNX sessions and store readers cannot be pickled from the driver: the driver sends only a
`ServeSpec` (paths, routing, key digests — never plain keys).

Direct ingress (`RAY_SERVE_ENABLE_DIRECT_INGRESS=1` in the environment before Ray starts) lets each
replica serve HTTP on its own port as well; `direct_ingress_urls` finds those ports. The proxy path
keeps working either way.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass

import ray
from ray import serve

from mdc.errors import CollectorError, ConfigError
from models.runtime import SHIPPED, discover_models
from serve.ab import ABRouter
from serve.app import build_app
from serve.auth import KeyRing
from serve.features_source import (
    ActorFeatureSource,
    FeatureSource,
    NoFeatureSource,
    StoreFeatureSource,
)
from serve.http_limits import ray_http_options

APP_NAME = "mdc"
DIRECT_INGRESS_ENV = "RAY_SERVE_ENABLE_DIRECT_INGRESS"
DIRECT_INGRESS_DRAIN_ENV = "RAY_SERVE_DIRECT_INGRESS_MIN_DRAINING_PERIOD_S"
"""Ray's default drain (30 s, for load balancers) makes every shutdown wait; we use 2 s."""
QUIET_LOGS = {"enable_access_log": False, "log_level": "WARNING"}
DEFAULT_MODELS_DIR = str(SHIPPED)


class PortInUse(CollectorError):
    """The HTTP port is taken by another process."""


@dataclass(frozen=True)
class ServeSpec:
    """Everything a replica needs to build the app (picklable, no secrets)."""

    keys: KeyRing
    models_dir: str = DEFAULT_MODELS_DIR
    data_dir: str | None = None
    actor: str | None = None
    actor_namespace: str | None = None
    version_a: str | None = None
    version_b: str | None = None
    weight_b: float = 0.2

    def feature_source(self) -> FeatureSource:
        if self.actor is not None:
            return ActorFeatureSource(self.actor, self.actor_namespace)
        if self.data_dir is not None:
            return StoreFeatureSource(self.data_dir)
        return NoFeatureSource()

    def router(self) -> ABRouter:
        """A/B over the discovered models: A and B default to the first two versions."""
        models = discover_models(self.models_dir)
        if not models:
            raise ConfigError(f"no models in {self.models_dir!r} (expected <name>-<version>/)")
        by_version = {m.version: m for m in models}
        a = _pick(by_version, self.version_a, models[0].version, "A")
        b = _pick(by_version, self.version_b, models[min(1, len(models) - 1)].version, "B")
        return ABRouter(a, b, self.weight_b, catalogue=models)


def _pick(by_version: dict, wanted: str | None, default: str, variant: str):
    version = wanted or default
    if version not in by_version:
        known = ", ".join(sorted(by_version))
        raise ConfigError(f"variant {variant}: no model version {version!r}; loaded: {known}")
    return by_version[version]


@serve.deployment(logging_config=QUIET_LOGS, max_ongoing_requests=100)
@serve.ingress()
class PredictionIngress:
    """The FastAPI app of serve.app, built inside the replica from a ServeSpec."""

    def __init__(self, spec: ServeSpec) -> None:
        self._app = build_app(spec.router(), spec.feature_source(), spec.keys)

    def __serve_build_asgi_app__(self):
        return self._app


@dataclass(frozen=True)
class Scaling:
    """Replica count: fixed when min == max, else Serve autoscaling on ongoing requests."""

    min_replicas: int = 1
    max_replicas: int = 1
    target_ongoing_requests: float = 8.0
    max_ongoing_requests: int = 100
    replica_cpus: float = 0.5

    def options(self) -> dict:
        if not 1 <= self.min_replicas <= self.max_replicas:
            raise ConfigError("replicas: need 1 <= min_replicas <= max_replicas")
        opts: dict = {
            "max_ongoing_requests": self.max_ongoing_requests,
            "ray_actor_options": {"num_cpus": self.replica_cpus},
            "graceful_shutdown_timeout_s": 5.0,
        }
        if self.min_replicas == self.max_replicas:
            opts["num_replicas"] = self.min_replicas
        else:
            opts["autoscaling_config"] = {
                "min_replicas": self.min_replicas,
                "max_replicas": self.max_replicas,
                "target_ongoing_requests": self.target_ongoing_requests,
            }
        return opts


def free_port(host: str = "127.0.0.1") -> int:
    """A port nothing listens on now (tests, benchmarks, the chaos suite's API)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def ensure_port_free(host: str, port: int) -> None:
    """Fail fast with a clear error instead of a Serve proxy that retries binding forever."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # TIME_WAIT counts as free
        try:
            sock.bind((host, port))
        except OSError as exc:
            raise PortInUse(
                f"cannot listen on {host}:{port}: {exc.strerror}; pick another --port"
            ) from exc


def start_serve(
    spec: ServeSpec,
    host: str = "127.0.0.1",
    port: int = 8000,
    scaling: Scaling = Scaling(),
    app_name: str = APP_NAME,
) -> str:
    """Start Serve's proxy on host:port and deploy the app (Ray must be initialised); returns
    the base URL once the app answers. Call `stop_serve` to shut it down gracefully."""
    ensure_port_free(host, port)
    serve.start(http_options=ray_http_options(host, port), logging_config=QUIET_LOGS)
    app = PredictionIngress.options(**scaling.options()).bind(spec)
    serve.run(app, name=app_name, route_prefix="/", logging_config=QUIET_LOGS)
    return f"http://{host}:{port}"


def stop_serve() -> None:
    """Drain and stop every Serve application and the proxy (in-flight requests finish)."""
    serve.shutdown()


def direct_ingress_enabled() -> bool:
    """Whether direct ingress is asked for; also shortens its drain (call before Ray starts)."""
    enabled = os.environ.get(DIRECT_INGRESS_ENV) == "1"
    if enabled:
        os.environ.setdefault(DIRECT_INGRESS_DRAIN_ENV, "2")
    return enabled


def direct_ingress_urls(host: str, app_name: str = APP_NAME) -> list[str]:
    """Base URLs of the replicas' own HTTP servers (empty unless direct ingress is on); they
    listen on Serve's `host`. Uses the controller's `get_target_groups` (alpha in Ray 2.60)."""
    if not direct_ingress_enabled():
        return []
    controller = serve.context._get_global_client()._controller
    groups = ray.get(controller.get_target_groups.remote(app_name), timeout=10)
    return [
        f"http://{host}:{t.port}"
        for g in groups
        if str(g.protocol).upper().endswith("HTTP")
        for t in g.targets
    ]
