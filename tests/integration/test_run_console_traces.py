"""`OTEL_TRACES_EXPORTER=console mdc run`: the actors' spans land where the run says at start."""

from __future__ import annotations

import collections
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.ray
CHAIN = {"provider.receive", "collector.process", "pipeline.enqueue", "storage.write", "wal.append"}
PREFIX = "mdc run: spans: "


def test_console_export_under_mdc_run_writes_every_actors_spans_to_the_file_it_names(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "MDC_TRACES"))}
    env["OTEL_TRACES_EXPORTER"] = "console"  # and the default sampler
    data_dir = tmp_path / "data"
    argv = [str(Path(sys.executable).parent / "mdc"), "run", "--data-dir", str(data_dir)]
    argv += ["--duration", "8", "--no-api", "--no-grpc"]  # the four simulated venues
    done = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-3000:]

    (named,) = [line for line in done.stderr.splitlines() if line.startswith(PREFIX)]
    path = Path(named.removeprefix(PREFIX).split(" (")[0])
    assert path == data_dir.resolve() / "traces.jsonl"
    spans = [json.loads(line) for line in path.read_text().splitlines()]
    traces = collections.defaultdict(set)
    for span in spans:
        traces[span["context"]["trace_id"]].add(span["name"])
    complete = [trace_id for trace_id, names in traces.items() if names == CHAIN]
    assert len(complete) >= 2, f"{len(complete)} complete traces among {len(traces)}"
    components = {span["resource"]["attributes"]["mdc.component"] for span in spans}
    assert "writer" in components and len(components) >= 3  # the writer and several providers
