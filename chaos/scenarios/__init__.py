"""Chaos scenarios, one per module, found through the entry-point group `mdc.scenarios` (each
entry names a module's `SCENARIO`), so a third-party package can add its own."""

from __future__ import annotations

from chaos.scenarios.base import Scenario, ScenarioError
from mdc.plugins import load_variant, variant_names

GROUP = "mdc.scenarios"


def scenario_names() -> list[str]:
    return sorted(variant_names(GROUP))


def get_scenario(name: str) -> Scenario:
    if name not in scenario_names():
        raise ScenarioError(f"unknown scenario {name!r}; known: {', '.join(scenario_names())}")
    return load_variant(GROUP, name)


def select(names: str) -> list[Scenario]:
    """`all`, one name, or a comma-separated list of names."""
    chosen = scenario_names() if names == "all" else [n.strip() for n in names.split(",")]
    return [get_scenario(name) for name in chosen]
