"""Manifests as text: one multi-document YAML, or one file per kind group plus a kustomization.

Pure (text out); the command writes it. Keys keep the renderer's order (`sort_keys=False`), so
`apiVersion, kind, metadata, spec` read as usual and the output is the same byte for byte on
every run; multi-line strings (the TOML config, serveConfigV2) are literal blocks.
"""

from __future__ import annotations

from collections.abc import Mapping

import yaml

from mdc.deploy.values import Values, documented_yaml

HEADER = "# Rendered by `mdc deploy k8s` from values.yaml: edit the values and render again.\n"
KIND_FILES = {
    "Namespace": "namespace.yaml",
    "ConfigMap": "configmaps.yaml",
    "PersistentVolumeClaim": "storage.yaml",
    "RayCluster": "raycluster.yaml",
    "RayService": "rayservice.yaml",
    "Deployment": "deployments.yaml",
    "Service": "services.yaml",
    "HorizontalPodAutoscaler": "autoscaling.yaml",
    "PodDisruptionBudget": "disruption-budgets.yaml",
    "NetworkPolicy": "network-policies.yaml",
    "ServiceMonitor": "monitoring.yaml",
}
VALUES_FILE = "values.yaml"
KUSTOMIZATION_FILE = "kustomization.yaml"


class _Dumper(yaml.SafeDumper):
    """Block style with literal multi-line strings, and no anchors: a shared dict is written
    out in full at each place, as a reader of a manifest expects."""

    def ignore_aliases(self, data: object) -> bool:
        return True


def _string(dumper: yaml.SafeDumper, text: str) -> yaml.ScalarNode:
    style = "|" if "\n" in text else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", text, style=style)


_Dumper.add_representer(str, _string)


def to_yaml(objects: list[Mapping]) -> str:
    """One YAML stream, one document per object."""
    return HEADER + yaml.dump_all(
        objects, Dumper=_Dumper, sort_keys=False, explicit_start=True, width=100
    )


def manifest_files(objects: list[Mapping], values: Values) -> dict[str, str]:
    """File name -> text: the kind groups in render order, the kustomization listing them,
    and the documented values they were rendered from."""
    groups: dict[str, list[Mapping]] = {}
    for obj in objects:
        groups.setdefault(KIND_FILES[obj["kind"]], []).append(obj)
    files = {name: to_yaml(group) for name, group in groups.items()}
    kustomization = {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "resources": list(groups),
    }
    files[KUSTOMIZATION_FILE] = HEADER + yaml.safe_dump(kustomization, sort_keys=False)
    files[VALUES_FILE] = documented_yaml(values)
    return files
