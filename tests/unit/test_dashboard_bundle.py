"""The Python the dashboard runs under Pyodide, checked without a browser: the served zip alone,
on a bare interpreter (standard library only, no site-packages: what Pyodide offline has),
computes exactly the features the server computes from the same events."""

from __future__ import annotations

import io
import json
import math
import subprocess
import sys
import zipfile
from decimal import Decimal

import pytest

from mdc.events import Gap, to_json
from mdc.features import FeatureConfig, FeatureTracker
from models.synthetic import synthetic_events
from serve.dashboard import browser_bundle

RUN = """
import json, sys
sys.path.insert(0, sys.argv[1])
import msgspec, mdc_dashboard
assert msgspec.__file__.startswith(sys.argv[1]), msgspec.__file__  # the stand-in, not the C one
board = mdc_dashboard.Dashboard()
board.feed(open(sys.argv[2]).read())
out = {f"{v}|{s}": json.loads(board.vector(v, s)) for v, s in json.loads(board.instruments())}
out["stats"] = json.loads(board.stats())
out["depth"] = json.loads(board.depth(*json.loads(board.instruments())[0], 3))
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def bundle_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("bundle")
    zipfile.ZipFile(io.BytesIO(browser_bundle())).extractall(root)
    return root


def _in_browser_python(bundle_dir, lines_path) -> dict:
    """Runs the bundle on `python -S -I` (no site-packages, no user paths): a missing pure-Python
    dependency or a use of the real msgspec fails here as it would in Pyodide."""
    done = subprocess.run(
        [sys.executable, "-S", "-I", "-c", RUN, str(bundle_dir), str(lines_path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def _server_values(events) -> dict:
    tracker = FeatureTracker(FeatureConfig.default())
    for event in events:
        tracker.on_event(event)
    out = {}
    for venue, symbol in tracker.instruments():
        vector = tracker.vector(venue, symbol)
        values = {
            k: None if isinstance(v, float) and not math.isfinite(v) else v
            for k, v in vector.values.items()
        }
        out[f"{venue}|{symbol}"] = (vector.t_ns, values)
    return out


@pytest.mark.parametrize("venue", ["binance", "kraken", "coinbase"])
def test_bundle_computes_the_server_features_exactly(bundle_dir, tmp_path, venue):
    events = list(synthetic_events(5, 330, venue=venue, symbols=("BTC-USD", "ETH-USD"), rate=5.0))
    gap_at = events[len(events) // 2].ts_event
    events.insert(len(events) // 2, Gap(venue, "ETH-USD", gap_at, gap_at, "book", "test gap"))
    lines = tmp_path / "events.jsonl"
    lines.write_bytes(b"".join(to_json(e) + b"\n" for e in events) + b"not json\n{}\n")

    browser = _in_browser_python(bundle_dir, lines)
    expected = _server_values(events)
    assert set(expected) == set(browser) - {"stats", "depth"}
    known = 0
    for key, (t_ns, values) in expected.items():
        assert browser[key]["t_ns"] == str(t_ns)
        assert browser[key]["features"] == values, key
        known += sum(v is not None for k, v in values.items() if k.endswith("_5m"))
    assert known >= 4  # five-minute windows too, not only the book's point-in-time features
    assert browser["stats"]["events"] == len(events)
    assert browser["stats"]["bad_lines"] == 2  # the junk lines are counted, not fed
    depth = browser["depth"]
    assert depth["in_sync"] and len(depth["bids"]) == 3
    assert Decimal(depth["bids"][0][0]) < Decimal(depth["asks"][0][0])


def test_bundle_holds_no_server_side_parts():
    names = zipfile.ZipFile(io.BytesIO(browser_bundle())).namelist()
    assert "msgspec/__init__.py" in names and "mdc_dashboard.py" in names
    assert "mdc/features/tracker.py" in names and "sortedcontainers/__init__.py" in names
    assert not [n for n in names if n.startswith(("mdc/v1/", "mdc/store/")) or n.endswith(".so")]
    entry_points = [n for n in names if n.endswith("entry_points.txt")]
    assert len(entry_points) == 1
