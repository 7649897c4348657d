"""Offline checks of Kubernetes manifests: schemas, KubeRay CRD schemas, and mdc's policies.

No cluster here can run an API server, so three layers stand in for one:
- built-in kinds against kubernetes-validate's strict schemas (an unknown field fails);
- KubeRay kinds against the operator's CRD schemas, made strict (`strict_schema`): an API server
  prunes unknown fields of a CRD silently, so a misspelt RayService field would deploy as if absent;
- CRDs without a schema here (ServiceMonitor) against their known top-level shape;
then the policies every mdc pod must meet (`POD_CHECKS`, `OBJECT_CHECKS`).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import jsonschema
import kubernetes_validate
import yaml

from mdc.deploy.pods import COLLECTOR_CONTAINER
from mdc.errors import ConfigError

KUBERNETES_VERSION = "1.33"
CRDS_ENV = "MDC_KUBERAY_CRDS"
KUBERAY_FILES = {
    "RayCluster": "ray.io_rayclusters.yaml",
    "RayService": "ray.io_rayservices.yaml",
    "RayJob": "ray.io_rayjobs.yaml",
}
CRD_VERSION = "v1"
STRUCTURAL_KINDS = {
    "ServiceMonitor": {"apiVersion", "kind", "metadata", "spec"},
    **{kind: {"apiVersion", "kind", "metadata", "spec", "status"} for kind in KUBERAY_FILES},
}
"""Custom kinds without a schema here: the top-level keys they may have."""
WORKLOAD_KINDS = {"Deployment", "StatefulSet", "DaemonSet", "Job", "ReplicaSet"}
SECRET_LIKE = re.compile(r"KEY|SECRET|TOKEN|PASSW|CREDENTIAL", re.IGNORECASE)
PROBES = ("startupProbe", "readinessProbe", "livenessProbe")
LIVENESS_PATH = "/livez"
REPO_ROOT = Path(__file__).resolve().parents[2]


class CrdsMissing(ConfigError):
    """The KubeRay CRD files are not where they were looked for."""


@dataclass(frozen=True)
class Finding:
    subject: str
    """Kind/name of the object."""
    check: str
    message: str

    def __str__(self) -> str:
        return f"{self.subject}: {self.check}: {self.message}"


@dataclass(frozen=True)
class PodSite:
    """One pod template inside an object, and what kind of pod it makes."""

    where: str
    spec: Mapping
    ray: bool
    worker: bool


def default_crd_dir(repo_root: Path = REPO_ROOT, environ: Mapping[str, str] = os.environ) -> Path:
    """$MDC_KUBERAY_CRDS, else the shared data beside the repository (never copied into it)."""
    return Path(environ.get(CRDS_ENV) or repo_root.parent / "shared" / "data" / "kuberay")


def load_crd_schemas(crd_dir: Path) -> dict[str, dict]:
    """Kind -> strict openAPIV3Schema of its v1 version."""
    schemas = {}
    for kind, name in KUBERAY_FILES.items():
        path = crd_dir / name
        if not path.is_file():
            raise CrdsMissing(f"no KubeRay CRD {path} (set {CRDS_ENV} to their directory)")
        crd = yaml.safe_load(path.read_text(encoding="utf-8"))
        version = next(v for v in crd["spec"]["versions"] if v["name"] == CRD_VERSION)
        schemas[kind] = strict_schema(version["schema"]["openAPIV3Schema"])
    return schemas


_SCHEMA_MAPS = ("properties", "patternProperties", "definitions")
_SCHEMA_LISTS = ("allOf", "anyOf", "oneOf")
_SCHEMA_ONE = ("items", "additionalProperties", "not")


def strict_schema(schema: Mapping) -> dict:
    """A copy where every object schema with `properties` (and no
    x-kubernetes-preserve-unknown-fields) refuses other keys."""
    out = {}
    for key, value in schema.items():
        if key in _SCHEMA_MAPS:
            out[key] = {name: strict_schema(sub) for name, sub in value.items()}
        elif key in _SCHEMA_LISTS:
            out[key] = [strict_schema(sub) for sub in value]
        elif key in _SCHEMA_ONE and isinstance(value, Mapping):
            out[key] = strict_schema(value)
        else:
            out[key] = value
    open_ended = "additionalProperties" in schema or schema.get(
        "x-kubernetes-preserve-unknown-fields"
    )
    if "properties" in schema and not open_ended:
        out["additionalProperties"] = False
    return out


def check(objects: list[Mapping], crd_schemas: Mapping[str, dict] | None) -> list[Finding]:
    """Every finding over `objects`; KubeRay kinds get only the structural check without
    `crd_schemas`."""
    findings = []
    for obj in objects:
        findings += _schema_findings(obj, crd_schemas)
        findings += policy_findings(obj)
    return findings


def _subject(obj: Mapping) -> str:
    return f"{obj.get('kind', '?')}/{obj.get('metadata', {}).get('name', '?')}"


def _path(parts) -> str:
    return ".".join(str(part) for part in parts) or "(top level)"


def _schema_findings(obj: Mapping, crd_schemas: Mapping[str, dict] | None) -> list[Finding]:
    kind = obj.get("kind")
    if crd_schemas is not None and kind in crd_schemas:
        return crd_findings(obj, crd_schemas[kind])
    if kind in STRUCTURAL_KINDS:
        return structure_findings(obj, STRUCTURAL_KINDS[kind])
    return kubernetes_findings(obj)


def kubernetes_findings(obj: Mapping) -> list[Finding]:
    """kubernetes-validate, strict: it stops at the first error."""
    try:
        kubernetes_validate.validate(dict(obj), KUBERNETES_VERSION, strict=True)
    except kubernetes_validate.ValidationError as exc:
        return [Finding(_subject(obj), "schema", f"{_path(exc.path)}: {exc.message}")]
    except kubernetes_validate.SchemaNotFoundError as exc:
        return [Finding(_subject(obj), "schema", exc.message)]
    return []


def crd_findings(obj: Mapping, schema: dict) -> list[Finding]:
    validator = jsonschema.Draft7Validator(schema)
    errors = sorted(validator.iter_errors(obj), key=lambda e: [str(p) for p in e.path])
    return [Finding(_subject(obj), "crd", f"{_path(e.path)}: {e.message}") for e in errors]


def structure_findings(obj: Mapping, allowed: set[str]) -> list[Finding]:
    problems = [f"unknown top-level key {key!r}" for key in sorted(set(obj) - allowed)]
    problems += [f"no {key}" for key in ("apiVersion", "kind") if not obj.get(key)]
    if not isinstance(obj.get("metadata"), Mapping) or not obj["metadata"].get("name"):
        problems.append("no metadata.name")
    return [Finding(_subject(obj), "structure", problem) for problem in problems]


def pod_sites(obj: Mapping) -> Iterator[PodSite]:
    kind, spec = obj.get("kind"), obj.get("spec") or {}
    if kind in WORKLOAD_KINDS:
        yield PodSite("template", spec.get("template", {}).get("spec", {}), False, False)
    cluster = {
        "RayCluster": spec,
        "RayService": spec.get("rayClusterConfig"),
        "RayJob": spec.get("rayClusterSpec"),
    }.get(kind)
    if cluster:
        head = cluster.get("headGroupSpec", {}).get("template", {}).get("spec", {})
        yield PodSite("head", head, True, False)
        for group in cluster.get("workerGroupSpecs", []):
            template = group.get("template", {}).get("spec", {})
            yield PodSite(f"worker group {group.get('groupName')}", template, True, True)


def _containers(site: PodSite) -> list[Mapping]:
    return [*site.spec.get("initContainers", []), *site.spec.get("containers", [])]


def _resources(site: PodSite) -> list[str]:
    return [
        f"container {c.get('name')}: no resources.{bound}.{resource}"
        for c in _containers(site)
        for bound in ("requests", "limits")
        for resource in ("cpu", "memory")
        if resource not in (c.get("resources", {}).get(bound) or {})
    ]


def _ray_memory(site: PodSite) -> list[str]:
    """Ray sizes its object store from the limit; a lower request overcommits the node."""
    problems = []
    for c in _containers(site) if site.ray else []:
        amounts = c.get("resources", {})
        request = (amounts.get("requests") or {}).get("memory")
        limit = (amounts.get("limits") or {}).get("memory")
        if request and limit and request != limit:
            problems.append(f"container {c.get('name')}: memory request {request} != limit {limit}")
    return problems


def _shm(site: PodSite) -> list[str]:
    if not site.ray:
        return []
    memory = {
        v.get("name")
        for v in site.spec.get("volumes", [])
        if (v.get("emptyDir") or {}).get("medium") == "Memory"
    }
    ray = (site.spec.get("containers") or [{}])[0]
    mounts = ray.get("volumeMounts", [])
    if any(m.get("mountPath") == "/dev/shm" and m.get("name") in memory for m in mounts):
        return []
    return [f"container {ray.get('name')}: no emptyDir {{medium: Memory}} at /dev/shm"]


def _restart_policy(site: PodSite) -> list[str]:
    policy = site.spec.get("restartPolicy")
    if site.worker and policy != "Never":
        return [f"restartPolicy {policy} (Ray workers need Never: the autoscaler replaces them)"]
    return []


def _probes(site: PodSite) -> list[str]:
    problems = []
    for c in _containers(site):
        if c.get("name") != COLLECTOR_CONTAINER:
            continue
        problems += [f"container {c['name']}: no {probe}" for probe in PROBES if probe not in c]
        path = (c.get("livenessProbe") or {}).get("httpGet", {}).get("path", LIVENESS_PATH)
        if path != LIVENESS_PATH:
            problems.append(
                f"container {c['name']}: livenessProbe checks {path}, not {LIVENESS_PATH} "
                "(liveness must not depend on venues)"
            )
    return problems


def _security(site: PodSite) -> list[str]:
    pod = site.spec.get("securityContext") or {}
    problems = []
    for c in _containers(site):
        own = c.get("securityContext") or {}
        name = f"container {c.get('name')}"
        if own.get("runAsNonRoot", pod.get("runAsNonRoot")) is not True:
            problems.append(f"{name}: runAsNonRoot is not true")
        if own.get("runAsUser", pod.get("runAsUser")) == 0:
            problems.append(f"{name}: runAsUser is 0 (root)")
        if own.get("allowPrivilegeEscalation") is not False:
            problems.append(f"{name}: allowPrivilegeEscalation is not false")
        if "ALL" not in (own.get("capabilities") or {}).get("drop", []):
            problems.append(f"{name}: capabilities.drop lacks ALL")
        seccomp = own.get("seccompProfile", pod.get("seccompProfile")) or {}
        if seccomp.get("type") not in ("RuntimeDefault", "Localhost"):
            problems.append(f"{name}: seccompProfile is not RuntimeDefault")
    return problems


def image_problem(image: str) -> str | None:
    """Why `image` is not pinned, or None: a digest or a tag other than latest pins it."""
    if "@sha256:" in image:
        return None
    tag = image.rpartition("/")[2].partition(":")[2]
    if not tag:
        return f"image {image} has no tag"
    return f"image {image} uses latest" if tag == "latest" else None


def _images(site: PodSite) -> list[str]:
    found = ((c.get("name"), image_problem(c.get("image", ""))) for c in _containers(site))
    return [f"container {name}: {problem}" for name, problem in found if problem]


def _inline_secrets(site: PodSite) -> list[str]:
    return [
        f"container {c.get('name')}: env {env['name']} has an inline value; use "
        "valueFrom.secretKeyRef"
        for c in _containers(site)
        for env in c.get("env", [])
        if "value" in env and SECRET_LIKE.search(env.get("name", ""))
    ]


POD_CHECKS: dict[str, Callable[[PodSite], list[str]]] = {
    "resources": _resources,
    "ray-memory": _ray_memory,
    "shm": _shm,
    "restart-policy": _restart_policy,
    "probes": _probes,
    "security": _security,
    "image": _images,
    "secrets": _inline_secrets,
}


def _budget(obj: Mapping) -> list[str]:
    if obj.get("kind") != "PodDisruptionBudget":
        return []
    value = (obj.get("spec") or {}).get("minAvailable")
    if isinstance(value, int) and not isinstance(value, bool):
        return []
    return [f"minAvailable {value!r} is not an integer (RayCluster has no scale subresource)"]


def _secret_values(obj: Mapping) -> list[str]:
    if obj.get("kind") == "Secret" and (obj.get("data") or obj.get("stringData")):
        return ["Secret holds values; create it with kubectl, render only its name"]
    return []


OBJECT_CHECKS: dict[str, Callable[[Mapping], list[str]]] = {
    "pdb": _budget,
    "secrets": _secret_values,
}


def policy_findings(obj: Mapping) -> list[Finding]:
    subject = _subject(obj)
    findings = [
        Finding(subject, name, message)
        for name, rule in OBJECT_CHECKS.items()
        for message in rule(obj)
    ]
    for site in pod_sites(obj):
        for name, rule in POD_CHECKS.items():
            findings += [Finding(subject, name, f"{site.where}: {m}") for m in rule(site)]
    return findings
