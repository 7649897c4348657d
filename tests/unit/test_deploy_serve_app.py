"""The RayService's Serve config names an application that exists: its import path resolves to
a builder that makes the prediction API's deployment (the name the config configures), and a
replica without API keys fails at build time with a clear error."""

from __future__ import annotations

import importlib

import pytest
import yaml

from mdc.deploy.k8s import render
from mdc.deploy.values import Values
from mdc.errors import ConfigError


def _serve_config() -> dict:
    service = next(m for m in render(Values()) if m["kind"] == "RayService")
    return yaml.safe_load(service["spec"]["serveConfigV2"])


def _builder(import_path: str):
    module, _, name = import_path.partition(":")
    return getattr(importlib.import_module(module), name)


def test_the_import_path_builds_the_configured_deployment(monkeypatch):
    app = _serve_config()["applications"][0]
    monkeypatch.setenv("MDC_API_KEYS", "a-key")
    built = _builder(app["import_path"])(app["args"])
    configured = [d["name"] for d in app["deployments"]]
    assert built._bound_deployment.name in configured  # Serve has no public accessor


def test_a_replica_without_keys_fails_at_build_time(monkeypatch):
    app = _serve_config()["applications"][0]
    monkeypatch.delenv("MDC_API_KEYS", raising=False)
    monkeypatch.delenv("MDC_API_KEY_HASHES", raising=False)
    with pytest.raises(ConfigError, match="MDC_API_KEYS"):
        _builder(app["import_path"])(app["args"])
