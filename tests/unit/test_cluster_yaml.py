"""The Ray cluster launcher configs (cluster.yaml on AWS, cluster-onprem.yaml on own machines)
are only exercised by `ray up` on real machines: here they are checked offline against the schema
`ray up` itself applies (shipped in the Ray wheel), and against the custom resources the
supervisor places the writer and the providers with, so a typo or a renamed resource fails in CI
rather than on the day of a deployment."""

from __future__ import annotations

import copy
import importlib.util
import itertools
import json
import re
import shlex
from pathlib import Path

import jsonschema
import pytest
import yaml

from actors.supervisor import PROVIDER_RESOURCE, WRITER_RESOURCE

ROOT = Path(__file__).resolve().parents[2]
CONFIGS = ("cluster.yaml", "cluster-onprem.yaml")


def ray_schema() -> dict:
    """The schema of the installed Ray, found without importing Ray for it."""
    spec = importlib.util.find_spec("ray")
    assert spec is not None and spec.submodule_search_locations, "Ray is not installed"
    package = Path(next(iter(spec.submodule_search_locations)))
    return json.loads((package / "autoscaler" / "ray-schema.json").read_text())


def schema_errors(config: dict) -> list[str]:
    """`path: message` for each violation, with the validator the schema declares."""
    schema = ray_schema()
    validator_class = jsonschema.validators.validator_for(schema)
    validator_class.check_schema(schema)
    errors = validator_class(schema).iter_errors(config)
    return sorted(f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}" for e in errors)


def load(name: str) -> dict:
    return yaml.safe_load((ROOT / name).read_text())


def runs(command: str, program: str, subcommand: str) -> bool:
    """Whether the shell command runs `program subcommand` (by any path to the program)."""
    words = shlex.split(command)
    return any(Path(w).name == program and s == subcommand for w, s in itertools.pairwise(words))


def started_resources(commands: list[str]) -> list[dict]:
    """The `--resources` of each `ray start` among the commands (YAML folds them to one line)."""
    found = []
    for command in filter(lambda c: runs(c, "ray", "start"), commands):
        flag = "--resources="
        values = [w.removeprefix(flag) for w in shlex.split(command) if w.startswith(flag)]
        found.append(json.loads(values[0]) if values else {})
    return found


@pytest.mark.parametrize("name", CONFIGS)
def test_config_is_valid_for_ray_up(name: str) -> None:
    assert schema_errors(load(name)) == []


@pytest.mark.parametrize("name", CONFIGS)
def test_head_advertises_the_writer_resource_and_workers_the_providers(name: str) -> None:
    config = load(name)
    assert started_resources(config["head_start_ray_commands"]) == [{WRITER_RESOURCE: 1}]
    workers = started_resources(config["worker_start_ray_commands"])
    assert len(workers) == 1
    assert workers[0].get(PROVIDER_RESOURCE, 0) >= 1
    assert WRITER_RESOURCE not in workers[0], "the writer must only fit on the data volume's node"


def test_aws_node_types_match_the_start_commands() -> None:
    """The autoscaler plans with the node types' resources, Ray runs with `--resources`: a
    mismatch would have it add nodes the writer or providers cannot use."""
    config = load("cluster.yaml")
    types = config["available_node_types"]
    head = types[config["head_node_type"]]["resources"]
    workers = [t["resources"] for name, t in types.items() if name != config["head_node_type"]]
    assert head.get(WRITER_RESOURCE) == 1
    assert workers
    started = started_resources(config["worker_start_ray_commands"])[0]
    for resources in workers:
        assert WRITER_RESOURCE not in resources
        assert resources.get(PROVIDER_RESOURCE) == started[PROVIDER_RESOURCE]


def test_onprem_config_uses_the_local_provider_without_node_types() -> None:
    """`ray up` aborts on a local provider with `available_node_types` (it makes its own)."""
    config = load("cluster-onprem.yaml")
    provider = config["provider"]
    assert provider["type"] == "local"
    assert provider["head_ip"] not in provider["worker_ips"]
    assert len(provider["worker_ips"]) >= 2, "providers spread over at least two workers"
    assert "available_node_types" not in config
    assert "head_node_type" not in config


@pytest.mark.parametrize("name", CONFIGS)
def test_collector_runs_under_systemd_with_keys_from_the_environment(name: str) -> None:
    config = load(name)
    collector = [c for c in config["head_start_ray_commands"] if runs(c, "mdc", "run")]
    assert len(collector) == 1
    words = shlex.split(collector[0])
    assert "systemd-run" in words
    assert words.index("systemd-run") < words.index("run")
    assert "--address" in words
    assert words[words.index("--address") + 1] == "auto"
    assert any("bash scripts/setup" in c for c in config["setup_commands"])
    assert not re.search(r"APCA_API_(KEY_ID|SECRET_KEY)=", (ROOT / name).read_text())


@pytest.mark.parametrize("name", CONFIGS)
@pytest.mark.parametrize(
    ("mistake", "expected"),
    [
        (
            lambda c: c.update(max_worker=c.pop("max_workers", 2)),
            "<root>: Additional properties are not allowed ('max_worker' was unexpected)",
        ),
        (lambda c: c.update(max_workers="four"), "max_workers: 'four' is not of type 'integer'"),
        (lambda c: c["provider"].pop("type"), "provider: 'type' is a required property"),
    ],
    ids=["misspelt-key", "wrong-type", "provider-without-type"],
)
def test_schema_catches_a_planted_mistake(name: str, mistake, expected: str) -> None:
    config = copy.deepcopy(load(name))
    mistake(config)
    assert schema_errors(config) == [expected]
