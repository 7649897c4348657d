"""The documented placement on a multi-node cluster (cluster.yaml, cluster-onprem.yaml): the writer
on the head (the node with `mdc_data`), providers spread over the workers; removing the node that
hosts a provider: it comes back on another node, nothing is lost."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.cluster_failover import RESULT_PREFIX, VENUES

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.ray
@pytest.mark.slow
def test_placement_then_provider_moves_to_another_node_and_invariants_hold() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "tests.integration.cluster_failover"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    lines = [line for line in done.stdout.splitlines() if line.startswith(RESULT_PREFIX)]
    assert lines, done.stdout[-3000:] + done.stderr[-3000:]
    result = json.loads(lines[-1].removeprefix(RESULT_PREFIX))
    assert result["writer"] == result["head"]
    before = result["providers_before"]
    assert set(before) == set(VENUES)
    assert set(before.values()) == set(result["workers"]), "one provider on each worker node"
    assert result["node_after"] != before["binance"]
    assert result["node_after"] in result["workers"]
    assert result["restarts"] >= 1
    assert result["ok"], "\n".join(result["report"])
