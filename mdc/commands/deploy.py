"""`mdc deploy k8s` renders Kubernetes manifests (KubeRay) from values; `mdc deploy check`
validates rendered manifests offline."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from mdc.errors import ConfigError

K8S_DESCRIPTION = """\
Render the manifests of an mdc deployment on Kubernetes with the KubeRay
operator: the collector's RayCluster (the `mdc run` driver beside the Ray
head, on the event store's volume), the prediction API's RayService, a
stateless gateway with an HPA on events stored per second, Services, the
collector's TOML config, the store's PersistentVolumeClaim,
PodDisruptionBudgets, NetworkPolicies, a ServiceMonitor and the Prometheus
Adapter rule. Secrets are referenced by name, never rendered."""

K8S_EPILOG = """\
example:
  mdc deploy k8s --out deploy/k8s          # the committed defaults
  mdc deploy k8s --values my-values.yaml --out build/k8s
  kubectl apply -k build/k8s

Every key of the values file is optional; deploy/k8s/values.yaml lists them
all with their defaults and what each means. An unknown key or a wrong type is
an error naming the key, and nothing is rendered."""

CHECK_EPILOG = """\
example:
  mdc deploy check deploy/k8s

Built-in kinds are checked against the strict Kubernetes 1.33 schemas of
kubernetes-validate, RayCluster/RayService/RayJob against KubeRay's CRD
schemas made strict (from $MDC_KUBERAY_CRDS, else shared/data/kuberay beside
the repository; without them: a structural check only), then mdc's policies:
requests and limits, Ray memory request == limit, /dev/shm, probes, non-root,
pinned images, integer PDB minAvailable, no inline secrets. Exits 1 if
anything is found."""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "deploy",
        help="render and check Kubernetes manifests (KubeRay)",
        description="Deployment manifests for Kubernetes with the KubeRay operator.",
    )
    targets = parser.add_subparsers(dest="target", metavar="TARGET", required=True)
    k8s = targets.add_parser(
        "k8s",
        help="render Kubernetes manifests from values",
        description=K8S_DESCRIPTION,
        epilog=K8S_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    k8s.add_argument("--values", metavar="FILE", help="YAML values (default: built-in defaults)")
    k8s.add_argument(
        "--out",
        metavar="DIR",
        help="write one file per kind group, kustomization.yaml and values.yaml into DIR "
        "(default: one multi-document YAML on stdout)",
    )
    k8s.set_defaults(func=_render)
    check = targets.add_parser(
        "check",
        help="validate rendered manifests offline",
        description="Validate the manifests a kustomization.yaml in DIR lists, without a cluster.",
        epilog=CHECK_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    check.add_argument(
        "dir", nargs="?", default="deploy/k8s", metavar="DIR", help="(default %(default)s)"
    )
    check.set_defaults(func=_check)


def _render(args: argparse.Namespace) -> int:
    from mdc.configfile import read_config_text
    from mdc.deploy.k8s import render
    from mdc.deploy.output import manifest_files, to_yaml
    from mdc.deploy.values import Values, ValuesError, parse_values

    values = Values()
    if args.values:
        text = read_config_text(args.values, "values file", ValuesError)
        values = parse_values(text, args.values)
    objects = render(values)
    if args.out is None:
        sys.stdout.write(to_yaml(objects))
        return 0
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    files = manifest_files(objects, values)
    for name, text in files.items():
        (out / name).write_text(text, encoding="utf-8")
    print(f"mdc deploy k8s: wrote {len(files)} files to {out}", file=sys.stderr)
    return 0


def _check(args: argparse.Namespace) -> int:
    try:
        from mdc.deploy.validate import CrdsMissing, check, default_crd_dir, load_crd_schemas
    except ImportError as exc:
        raise ConfigError(
            f"mdc deploy check needs {exc.name}: pip install 'mdc[deploy]' "
            "(bash scripts/setup deploy)"
        ) from exc

    objects = _manifests(Path(args.dir))
    try:
        schemas = load_crd_schemas(default_crd_dir())
    except CrdsMissing as exc:
        print(f"mdc deploy check: warning: {exc}; KubeRay kinds: structure only", file=sys.stderr)
        schemas = None
    findings = check(objects, schemas)
    for finding in findings:
        print(finding)
    verdict = f"{len(findings)} finding(s)" if findings else "all checks pass"
    print(f"mdc deploy check: {len(objects)} objects in {args.dir}: {verdict}", file=sys.stderr)
    return 1 if findings else 0


def _manifests(directory: Path) -> list[dict]:
    """The objects of every file the directory's kustomization.yaml lists."""
    import yaml

    from mdc.configfile import read_config_text
    from mdc.deploy.output import KUSTOMIZATION_FILE
    from mdc.errors import ConfigError

    listing = directory / KUSTOMIZATION_FILE
    objects = []
    try:
        kustomization = yaml.safe_load(read_config_text(listing, "kustomization"))
        for name in kustomization.get("resources", []):
            text = read_config_text(directory / name, "manifest")
            objects += [doc for doc in yaml.safe_load_all(text) if doc]
    except yaml.YAMLError as exc:
        raise ConfigError(f"{directory}: not valid YAML: {' '.join(str(exc).split())}") from exc
    return objects
