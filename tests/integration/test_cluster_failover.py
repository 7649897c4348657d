"""Removing the node that hosts a provider: it comes back on another node, nothing is lost."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.ray
@pytest.mark.slow
def test_provider_moves_to_another_node_and_invariants_hold():
    done = subprocess.run(
        [sys.executable, "-m", "tests.integration.cluster_failover"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["node_after"] != result["node_before"]
    assert result["restarts"] >= 1
    assert result["ok"], "\n".join(result["report"])
