"""Offline validation: the defaults pass, and each planted mistake is caught by its own check."""

from __future__ import annotations

from pathlib import Path

import pytest

from mdc.deploy.k8s import render
from mdc.deploy.validate import (
    CRDS_ENV,
    STRUCTURAL_KINDS,
    CrdsMissing,
    Finding,
    check,
    crd_findings,
    default_crd_dir,
    kubernetes_findings,
    load_crd_schemas,
    policy_findings,
    strict_schema,
)
from mdc.deploy.values import Values


@pytest.fixture
def objects() -> list[dict]:
    return render(Values())


@pytest.fixture(scope="module")
def crd_schemas() -> dict[str, dict]:
    crd_dir = default_crd_dir()
    if not crd_dir.is_dir():
        pytest.skip(
            f"KubeRay CRDs not found at {crd_dir} (outside the repository); "
            f"set {CRDS_ENV} to the directory holding ray.io_*.yaml"
        )
    return load_crd_schemas(crd_dir)


def _find(objects: list[dict], kind: str, name: str) -> dict:
    return next(o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name)


def _head(objects: list[dict]) -> dict:
    return _find(objects, "RayCluster", "mdc-collector")["spec"]["headGroupSpec"]["template"]


def _driver(objects: list[dict]) -> dict:
    (driver,) = [c for c in _head(objects)["spec"]["containers"] if c["name"] == "collector"]
    return driver


def _api_worker_pod(objects: list[dict]) -> dict:
    cluster = _find(objects, "RayService", "mdc-api")["spec"]["rayClusterConfig"]
    return cluster["workerGroupSpecs"][0]["template"]["spec"]


def _messages(findings: list[Finding], check_name: str) -> list[str]:
    return [f.message for f in findings if f.check == check_name]


def test_defaults_pass_every_check(objects, crd_schemas) -> None:
    assert check(objects, crd_schemas) == []


def test_defaults_pass_without_kuberay_crds(objects) -> None:
    """Where the CRDs are absent, KubeRay kinds still get the structural check."""
    custom = [o for o in objects if o["kind"] in STRUCTURAL_KINDS]
    assert [o["kind"] for o in custom] == ["RayCluster", "RayService", "ServiceMonitor"]
    assert check(custom, None) == []


def test_misspelt_service_field_fails_strict_kubernetes_schema(objects) -> None:
    service = _find(objects, "Service", "mdc-collector-grpc")
    service["spec"]["prots"] = service["spec"].pop("ports")
    (finding,) = kubernetes_findings(service)
    assert finding.subject == "Service/mdc-collector-grpc"
    assert finding.check == "schema"
    assert "'prots' was unexpected" in finding.message


def test_misspelt_deployment_field_fails_strict_kubernetes_schema(objects) -> None:
    gateway = _find(objects, "Deployment", "mdc-gateway")
    container = gateway["spec"]["template"]["spec"]["containers"][0]
    container["readynessProbe"] = container.pop("readinessProbe")
    (finding,) = kubernetes_findings(gateway)
    assert finding.message.startswith("spec.template.spec.containers.0: ")
    assert "'readynessProbe' was unexpected" in finding.message


@pytest.mark.parametrize(
    ("path", "field", "typo"),
    [
        (("spec",), "serveConfigV2", "serveConfigv2"),
        (("spec", "rayClusterConfig"), "enableInTreeAutoscaling", "enableInTreeAutoScaling"),
    ],
)
def test_misspelt_rayservice_field_fails_strict_crd_schema(
    objects, crd_schemas, path: tuple[str, ...], field: str, typo: str
) -> None:
    service = _find(objects, "RayService", "mdc-api")
    parent = service
    for key in path:
        parent = parent[key]
    parent[typo] = parent.pop(field)
    (finding,) = crd_findings(service, crd_schemas["RayService"])
    assert finding.check == "crd"
    assert finding.message.startswith(".".join(path) + ": ")
    assert f"'{typo}' was unexpected" in finding.message


def test_missing_memory_limit_is_caught(objects) -> None:
    del _driver(objects)["resources"]["limits"]["memory"]
    findings = policy_findings(_find(objects, "RayCluster", "mdc-collector"))
    assert _messages(findings, "resources") == [
        "head: container collector: no resources.limits.memory"
    ]


def test_ray_memory_request_below_limit_is_caught(objects) -> None:
    _api_worker_pod(objects)["containers"][0]["resources"]["requests"]["memory"] = "1Gi"
    findings = policy_findings(_find(objects, "RayService", "mdc-api"))
    assert _messages(findings, "ray-memory") == [
        "worker group serve: container ray-worker: memory request 1Gi != limit 4Gi"
    ]


def test_missing_liveness_probe_is_caught(objects) -> None:
    del _driver(objects)["livenessProbe"]
    findings = policy_findings(_find(objects, "RayCluster", "mdc-collector"))
    assert _messages(findings, "probes") == ["head: container collector: no livenessProbe"]


def test_liveness_on_readiness_endpoint_is_caught(objects) -> None:
    _driver(objects)["livenessProbe"]["httpGet"]["path"] = "/readyz"
    findings = policy_findings(_find(objects, "RayCluster", "mdc-collector"))
    (message,) = _messages(findings, "probes")
    assert "livenessProbe checks /readyz, not /livez" in message


@pytest.mark.parametrize(
    ("image", "problem"),
    [
        ("ghcr.io/example/mdc:latest", "image ghcr.io/example/mdc:latest uses latest"),
        ("localhost:5000/mdc", "image localhost:5000/mdc has no tag"),
    ],
)
def test_unpinned_image_is_caught(objects, image: str, problem: str) -> None:
    gateway = _find(objects, "Deployment", "mdc-gateway")
    gateway["spec"]["template"]["spec"]["containers"][0]["image"] = image
    findings = policy_findings(gateway)
    assert _messages(findings, "image") == [f"template: container gateway: {problem}"]


def test_percentage_min_available_is_caught(objects) -> None:
    budget = _find(objects, "PodDisruptionBudget", "mdc-collector-providers")
    budget["spec"]["minAvailable"] = "50%"
    findings = policy_findings(budget)
    assert _messages(findings, "pdb") == [
        "minAvailable '50%' is not an integer (RayCluster has no scale subresource)"
    ]


def test_removed_run_as_non_root_is_caught(objects) -> None:
    del _api_worker_pod(objects)["securityContext"]["runAsNonRoot"]
    findings = policy_findings(_find(objects, "RayService", "mdc-api"))
    assert _messages(findings, "security") == [
        "worker group serve: container ray-worker: runAsNonRoot is not true"
    ]


def test_inlined_secret_value_is_caught(objects) -> None:
    driver = _driver(objects)
    driver["env"] = [
        {"name": "APCA_API_SECRET_KEY", "value": "s3cr3t"}
        if e["name"] == "APCA_API_SECRET_KEY"
        else e
        for e in driver["env"]
    ]
    findings = policy_findings(_find(objects, "RayCluster", "mdc-collector"))
    assert _messages(findings, "secrets") == [
        "head: container collector: env APCA_API_SECRET_KEY has an inline value; "
        "use valueFrom.secretKeyRef"
    ]


def test_secret_object_with_data_is_caught() -> None:
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "k"},
        "data": {"a": "eA=="},
    }
    assert _messages(policy_findings(secret), "secrets") == [
        "Secret holds values; create it with kubectl, render only its name"
    ]


def test_missing_shm_and_worker_restart_policy_are_caught(objects) -> None:
    pod = _api_worker_pod(objects)
    pod["volumes"] = [v for v in pod["volumes"] if v["name"] != "dshm"]
    pod["restartPolicy"] = "Always"
    findings = policy_findings(_find(objects, "RayService", "mdc-api"))
    assert _messages(findings, "shm") == [
        "worker group serve: container ray-worker: no emptyDir {medium: Memory} at /dev/shm"
    ]
    (restart,) = _messages(findings, "restart-policy")
    assert restart.startswith("worker group serve: restartPolicy Always")


def test_service_monitor_gets_a_structural_check(objects) -> None:
    monitor = _find(objects, "ServiceMonitor", "mdc-collector")
    monitor["spce"] = monitor.pop("spec")
    assert [str(f) for f in check([monitor], None)] == [
        "ServiceMonitor/mdc-collector: structure: unknown top-level key 'spce'"
    ]


def test_strict_schema_closes_objects_but_not_open_ones() -> None:
    schema = {
        "type": "object",
        "properties": {
            "properties": {"type": "object", "properties": {"a": {"type": "string"}}},
            "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
            "map": {"type": "object", "additionalProperties": {"type": "string"}},
        },
    }
    strict = strict_schema(schema)
    assert strict["additionalProperties"] is False
    assert strict["properties"]["properties"]["additionalProperties"] is False
    assert "additionalProperties" not in strict["properties"]["free"]
    assert strict["properties"]["map"]["additionalProperties"] == {"type": "string"}
    assert "additionalProperties" not in schema  # the input is left alone


def test_crd_directory_comes_from_the_environment_or_beside_the_repository(tmp_path) -> None:
    assert default_crd_dir(Path("/r/main"), {CRDS_ENV: str(tmp_path)}) == tmp_path
    assert default_crd_dir(Path("/r/main"), {}) == Path("/r/shared/data/kuberay")
    with pytest.raises(CrdsMissing, match=CRDS_ENV):
        load_crd_schemas(tmp_path)
