"""The prediction API as a Ray Serve application: one FastAPI ingress that also does inference.

Measured on 2 cores (ray-notes §9), every handle hop costs about 2.3x and `@serve.batch` gains
little, so the ingress replica loads the models itself and predicts in-process; access logs are
off. The app is built in the replica (`@serve.ingress()` + `__serve_build_asgi_app__`), because
ONNX sessions and store readers cannot be pickled from the driver: the driver sends only a
`ServeSpec` (paths, routing, key digests — never plain keys).

Two ways in (`ServePath`):
- DIRECT (the default): Serve's direct ingress (experimental in Ray 2.60, which pyproject pins):
  the replica itself answers HTTP on the user's port, with no proxy hop. The Ray settings it
  needs go to the Serve controller's environment (`controller_options`), which the proxy and the
  replicas inherit, so it needs nothing set before Ray starts. Serve's proxy still runs (direct
  ingress requires it) on a free port of its own. One replica per port: several replicas need
  the proxy. If the replica does not answer on the port, Serve is restarted on PROXY and the
  reason is returned for the caller to print.
- PROXY: Serve's HTTP proxy on the user's port (about a quarter of the throughput here, see
  benchmarks/RESULTS.md); it load-balances several replicas.
"""

from __future__ import annotations

import enum
import os
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field

import httpx
from ray import serve

from actors.waiting import WaitTimeout, wait_until_sync
from mdc.errors import CollectorError, ConfigError
from models.runtime import SHIPPED, discover_models
from serve.ab import ABRouter
from serve.app import MAX_FEATURE_AGE_S, build_app
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
DIRECT_UP_TIMEOUT_S = 15.0
SERVE_TUNING = {
    "RAY_SERVE_RUN_USER_CODE_IN_SEPARATE_THREAD": "0",
    "RAY_SERVE_METRICS_EXPORT_INTERVAL_MS": "5000",
}
"""Serve controller environment on both paths (inherited by the proxy and the replica), each
measured in benchmarks/serve.py on 2 cores: the app runs on the replica's own event loop instead
of a second one in another thread (one hand-off less per request; safe here: no handler blocks,
features are read from memory and slow models run on worker threads); Serve's own request
metrics (which mdc does not read) are exported every 5 s instead of every 0.1 s: background
work that doubled the tail latency. (A slower controller loop helped the tail too, but cost
every start and stop a second or more.)"""
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
    venues: tuple[str, ...] = ()
    """The venues whose actors give features (empty: found by listing named actors)."""
    max_feature_age_s: float = MAX_FEATURE_AGE_S
    version_a: str | None = None
    version_b: str | None = None
    weight_b: float = 0.2
    stream_target: str | None = None
    """The gRPC market data server (HOST:PORT) that `/v1/stream` relays to WebSockets."""
    store_dir: str | None = None
    """The event store `/graphql` reads (None: no /graphql)."""

    def feature_source(self) -> FeatureSource:
        if self.actor is not None:
            return ActorFeatureSource(self.actor, self.actor_namespace, self.venues)
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


@serve.deployment(logging_config=QUIET_LOGS, max_ongoing_requests=256)
@serve.ingress()
class PredictionIngress:
    """The FastAPI app of serve.app, built inside the replica from a ServeSpec."""

    def __init__(self, spec: ServeSpec) -> None:
        self._features = spec.feature_source()
        self._app = build_app(
            spec.router(),
            self._features,
            spec.keys,
            max_feature_age_s=spec.max_feature_age_s,
            stream_target=spec.stream_target,
            store_dir=spec.store_dir,
        )

    def __serve_build_asgi_app__(self):
        return self._app

    def __del__(self) -> None:
        """Serve calls this when it stops the replica: stop the feature follower."""
        self._features.close()


@dataclass(frozen=True)
class Scaling:
    """Replica count: fixed when min == max, else Serve autoscaling on ongoing requests."""

    min_replicas: int = 1
    max_replicas: int = 1
    target_ongoing_requests: float = 8.0
    max_ongoing_requests: int = 256
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


class ServePath(enum.Enum):
    """How requests reach the replica: see the module docstring."""

    DIRECT = "direct"
    PROXY = "proxy"

    @classmethod
    def chosen(cls, proxy: bool) -> ServePath:
        """The path a command's --proxy/--api-proxy flag asks for."""
        return cls.PROXY if proxy else cls.DIRECT


@dataclass(frozen=True)
class Served:
    """A running API: where users call it, which path answers there, and why not the fast one."""

    url: str
    path: ServePath
    proxy_url: str
    fallback_reason: str | None = None


def direct_ingress_env(port: int) -> dict[str, str]:
    """The Serve controller's environment for the DIRECT path on `port` (inherited by the proxy
    and the replicas): the port range is that one port (Ray's upper bound is exclusive), a
    replacement replica may take it at once (no quarantine: there is no load balancer in front
    to forget it), and a stop drains for 2 s instead of Ray's 30."""
    return {
        DIRECT_INGRESS_ENV: "1",
        "RAY_SERVE_DIRECT_INGRESS_MIN_HTTP_PORT": str(port),
        "RAY_SERVE_DIRECT_INGRESS_MAX_HTTP_PORT": str(port + 1),
        "RAY_SERVE_PORT_QUARANTINE_S": "0",
        "RAY_SERVE_DIRECT_INGRESS_MIN_DRAINING_PERIOD_S": "2",
    }


def serve_environment(path: ServePath, port: int) -> dict[str, str]:
    """The Serve controller's environment for `path` on `port`."""
    env = direct_ingress_env(port) if path is ServePath.DIRECT else {DIRECT_INGRESS_ENV: "0"}
    return {**SERVE_TUNING, **env}


def preset_serve_environment(path: ServePath, port: int) -> None:
    """For a command about to start its own local Ray: put Serve's environment in this process's
    now, so Ray's processes inherit it and the controller needs no runtime environment of its
    own (which costs fresh worker processes: about 2 s of cold start here). Then start Serve
    with `ServeOptions(environment_preset=True)`."""
    os.environ.update(serve_environment(path, port))


@dataclass(frozen=True)
class ServeOptions:
    """How to start the API: path, replicas, and extra Serve controller environment."""

    path: ServePath = ServePath.DIRECT
    scaling: Scaling = Scaling()
    controller_env: Mapping[str, str] = field(default_factory=dict)
    app_name: str = APP_NAME
    direct_timeout_s: float = DIRECT_UP_TIMEOUT_S
    environment_preset: bool = False
    """Ray was started after `preset_serve_environment` (same path and port)."""


def app_builder(args: dict[str, str]) -> serve.Application:
    """The prediction API as a Serve config file names it (`import_path:
    serve.deployment:app_builder`, KubeRay's RayService): keys from the replica's environment
    ($MDC_API_KEYS, $MDC_API_KEY_HASHES: from a Secret), models from `models_dir`, the live
    stream relayed from the collector's gRPC at `stream_target`. A key ring that would refuse
    everything is an error here, not a silent 403 later."""
    keys = KeyRing.from_env(os.environ)
    if not len(keys):
        raise ConfigError("no API keys: set MDC_API_KEYS or MDC_API_KEY_HASHES (from a Secret)")
    spec = ServeSpec(
        keys,
        models_dir=args.get("models_dir", DEFAULT_MODELS_DIR),
        stream_target=args.get("stream_target"),
    )
    return PredictionIngress.bind(spec)


def start_serve(
    spec: ServeSpec,
    host: str = "127.0.0.1",
    port: int = 8000,
    options: ServeOptions = ServeOptions(),
) -> Served:
    """Start Serve and deploy the app (Ray must be initialised); returns once the app answers on
    host:port. Call `stop_serve` to shut it down gracefully."""
    ensure_port_free(host, port)
    path, reason = options.path, None
    if path is ServePath.DIRECT and options.scaling.max_replicas > 1:
        path, reason = ServePath.PROXY, "several replicas share one port only through Serve's proxy"
    if path is ServePath.PROXY:
        return _start(spec, host, port, options, path, fallback_reason=reason)
    try:
        return _start(spec, host, port, options, ServePath.DIRECT)
    except DirectIngressDown as exc:
        stop_serve()
        return _start(spec, host, port, options, ServePath.PROXY, fallback_reason=str(exc))


class DirectIngressDown(CollectorError):
    """Serve's direct ingress did not come up on the port (the fallback is the proxy)."""


def _start(
    spec: ServeSpec,
    host: str,
    port: int,
    options: ServeOptions,
    path: ServePath,
    *,
    fallback_reason: str | None = None,
) -> Served:
    proxy_port = free_port(host) if path is ServePath.DIRECT else port
    env = {**serve_environment(path, port), **options.controller_env}
    inherited = options.environment_preset and all(os.environ.get(k) == v for k, v in env.items())
    serve.start(
        http_options=ray_http_options(host, proxy_port),
        logging_config=QUIET_LOGS,
        controller_options=None if inherited else {"runtime_env": {"env_vars": env}},
    )
    app = PredictionIngress.options(**options.scaling.options()).bind(spec)
    url, proxy_url = f"http://{host}:{port}", f"http://{host}:{proxy_port}"
    try:
        serve.run(app, name=options.app_name, route_prefix="/", logging_config=QUIET_LOGS)
    except RuntimeError as exc:  # Serve reports a failed deployment as RuntimeError
        if path is ServePath.DIRECT:
            raise DirectIngressDown(f"the replica could not start direct ingress ({exc})") from exc
        raise
    if path is ServePath.DIRECT and not _answers(url, options.direct_timeout_s):
        raise DirectIngressDown(
            f"the replica did not answer on {url} within {options.direct_timeout_s:g} s"
        )
    return Served(url, path, proxy_url, fallback_reason)


def healthy(url: str) -> bool:
    """Whether the API at `url` answers GET /healthz with 200 now."""
    try:
        return httpx.get(url + "/healthz", timeout=1.0).status_code == 200
    except httpx.HTTPError:
        return False


def _answers(url: str, timeout_s: float) -> bool:
    """Whether GET /healthz answers 200 within `timeout_s` (the replica binds after its app is
    built, so a moment after Serve reports it running)."""
    try:
        wait_until_sync(lambda: healthy(url), timeout_s, f"{url}/healthz", every_s=0.05)
    except WaitTimeout:
        return False
    return True


def stop_serve() -> None:
    """Drain and stop every Serve application and the proxy (in-flight requests finish)."""
    serve.shutdown()


def describe(served: Served) -> list[str]:
    """What a CLI prints about a started API, one line each."""
    lines = []
    if served.fallback_reason:
        lines.append(
            f"direct ingress unavailable ({served.fallback_reason}); "
            f"serving through Serve's HTTP proxy on {served.url}"
        )
    elif served.path is ServePath.DIRECT:
        lines.append(f"the replica answers on {served.url} (Serve's proxy: {served.proxy_url})")
    return lines
