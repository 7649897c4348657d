"""`mdc deploy k8s`: values errors, the rendered config and commands, the committed manifests."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import msgspec
import pytest
import yaml

from actors.supervisor import PROVIDER_RESOURCE, WRITER_RESOURCE
from mdc.cli import build_parser, main
from mdc.config import load_config
from mdc.deploy import values as values_module
from mdc.deploy.k8s import collector_toml, render
from mdc.deploy.output import manifest_files
from mdc.deploy.values import Values, field_docs, parse_values

REPO = Path(__file__).resolve().parents[2]
COMMITTED = REPO / "deploy" / "k8s"
REGENERATE = "mdc deploy k8s --out deploy/k8s"


def _find(objects: list[dict], kind: str, name: str) -> dict:
    return next(o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name)


def _render_with(tmp_path: Path, values_text: str, capsys) -> tuple[int, str, Path]:
    values = tmp_path / "values.yaml"
    values.write_text(values_text)
    out = tmp_path / "out"
    code = main(["deploy", "k8s", "--values", str(values), "--out", str(out)])
    return code, capsys.readouterr().err, out


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("collector:\n  replcas: 2\n", "unknown key collector.replcas"),
        ("collector:\n  head:\n    cpu: 2\n", "collector.head.cpu: expected str, got int"),
        ("image:\n  tag: latest\n", "image: tag must pin a version (not empty, not latest)"),
        ("collector:\n  venues:\n  - name: kraken\n", "missing key collector.venues[0].symbols"),
    ],
)
def test_bad_values_give_one_line_naming_the_key_and_render_nothing(
    tmp_path: Path, capsys, text: str, message: str
) -> None:
    code, err, out = _render_with(tmp_path, text, capsys)
    assert code == 2
    assert err == f"mdc deploy: error: {tmp_path / 'values.yaml'}: {message}\n"
    assert not out.exists()


def test_partial_values_override_only_their_keys(tmp_path: Path, capsys) -> None:
    code, _, out = _render_with(tmp_path, "gateway:\n  max_replicas: 3\n", capsys)
    assert code == 0
    hpa = yaml.safe_load_all((out / "autoscaling.yaml").read_text())
    assert [h["spec"]["maxReplicas"] for h in hpa] == [3]
    assert parse_values((out / "values.yaml").read_text(), "x").gateway.max_replicas == 3


def test_stdout_is_one_stream_of_every_object(capsys) -> None:
    assert main(["deploy", "k8s"]) == 0
    documents = list(yaml.safe_load_all(capsys.readouterr().out))
    assert documents == render(Values())


def test_committed_manifests_equal_the_renderer_output() -> None:
    expected = manifest_files(render(Values()), Values())
    committed = {p.name: p.read_text(encoding="utf-8") for p in COMMITTED.glob("*.yaml")}
    assert sorted(committed) == sorted(expected), f"files differ; regenerate: {REGENERATE}"
    for name, text in expected.items():
        assert committed[name] == text, f"deploy/k8s/{name} is stale; regenerate: {REGENERATE}"


def test_committed_values_are_the_documented_defaults() -> None:
    text = (COMMITTED / "values.yaml").read_text(encoding="utf-8")
    assert parse_values(text, "values.yaml") == Values()


def test_every_values_field_is_documented() -> None:
    sections = [
        s
        for s in vars(values_module).values()
        if isinstance(s, type)
        and s.__module__ == values_module.__name__
        and issubclass(s, msgspec.Struct)
        and s.__struct_fields__
    ]
    assert Values in sections and len(sections) > 10
    for section in sections:
        undocumented = [name for name, text in field_docs(section).items() if not text]
        assert not undocumented, f"{section.__name__}: {undocumented}"


def test_config_map_toml_loads_with_the_collector_config_loader(tmp_path, monkeypatch) -> None:
    config_map = _find(render(Values()), "ConfigMap", "mdc-collector-config")
    path = tmp_path / "collector.toml"
    path.write_text(config_map["data"]["collector.toml"])
    monkeypatch.setenv("APCA_API_KEY_ID", "key-from-secret")
    monkeypatch.setenv("APCA_API_SECRET_KEY", "secret-from-secret")
    config = load_config(str(path))
    assert config.data_dir == Values().storage.mount_path
    assert [v.name for v in config.venues] == ["binance", "coinbase", "kraken", "alpaca"]
    assert not any(v.simulated for v in config.venues)
    assert config.venues[3].session.key == "key-from-secret"
    assert "secret-from-secret" not in collector_toml(Values())


def test_driver_and_gateway_commands_parse_as_mdc_commands() -> None:
    """The rendered `mdc run` / `mdc serve` lines must be accepted by mdc's own parser."""
    cluster = _find(render(Values()), "RayCluster", "mdc-collector")
    driver = cluster["spec"]["headGroupSpec"]["template"]["spec"]["containers"][1]
    run = shlex.split(driver["command"][-1].split("exec ", 1)[1])
    args = build_parser().parse_args(run[1:])
    assert (args.command, args.address, args.no_api, args.metrics_port) == (
        "run",
        "auto",
        True,
        9090,
    )
    gateway = _find(render(Values()), "Deployment", "mdc-gateway")
    serve = gateway["spec"]["template"]["spec"]["containers"][0]["command"]
    assert build_parser().parse_args(serve[1:]).port == Values().ports.gateway


def test_writer_and_provider_resources_match_the_supervisor() -> None:
    cluster = _find(render(Values()), "RayCluster", "mdc-collector")
    head = cluster["spec"]["headGroupSpec"]["rayStartParams"]["resources"]
    worker = cluster["spec"]["workerGroupSpecs"][0]["rayStartParams"]["resources"]
    assert json.loads(shlex.split(head)[0]) == {WRITER_RESOURCE: 1}
    assert json.loads(shlex.split(worker)[0]) == {PROVIDER_RESOURCE: 4}
    claim = cluster["spec"]["headGroupSpec"]["template"]["spec"]["volumes"][2]
    assert claim["persistentVolumeClaim"] == {"claimName": "mdc-data"}


def test_hpa_metric_comes_from_a_counter_the_collector_exports() -> None:
    from actors.metrics import Metrics

    metrics = Metrics()
    metrics.stored.labels("stored").inc()
    assert b'mdc_stored_events_total{outcome="stored"} 1.0' in metrics.render()
    rules = yaml.safe_load(
        _find(render(Values()), "ConfigMap", "mdc-prometheus-adapter-rules")["data"]["config.yaml"]
    )
    (rule,) = rules["externalRules"]
    assert rule["seriesQuery"].startswith("mdc_stored_events_total{")
    hpa = _find(render(Values()), "HorizontalPodAutoscaler", "mdc-gateway")
    assert hpa["spec"]["metrics"][0]["external"]["metric"]["name"] == rule["name"]["as"]
    assert hpa["spec"]["scaleTargetRef"]["kind"] == "Deployment"
