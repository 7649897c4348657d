"""Hot reload of a venue plugin on a running collector: the example plugin (examples/) version 1
is installed and collected from the embedded simulator; version 2 (its trades say "v2") is
installed with pip and reloaded: trades of both versions are stored, each trade exactly once
(`mdc verify`); a broken version 3 is refused and version 2 keeps running."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from actors.waiting import wait_until_sync
from mdc.store import Store

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "mdc-example-venue"
VERSION_FILE = Path("src") / "mdc_example_venue" / "version.py"
CONFIG = '[venues.example]\nsymbols = ["BTC-USD", "ETH-USD"]\n'
MDC = str(Path(sys.executable).with_name("mdc"))


def _pip(*args: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]


def _version(tmp_path: Path, major: int, broken: bool = False) -> Path:
    """A copy of the example package at version `major`: from 2 on its trades carry "v<major>";
    `broken` makes importing it fail."""
    copy = tmp_path / f"example-v{major}"
    ignore = shutil.ignore_patterns("*.egg-info", "__pycache__", "build", "tests")
    shutil.copytree(EXAMPLE, copy, ignore=ignore)
    version = copy / VERSION_FILE
    text = version.read_text().replace('__version__ = "1.0.0"', f'__version__ = "{major}.0.0"')
    if major > 1:
        text = text.replace(
            "TRADE_CONDITIONS: tuple[str, ...] = ()",
            f'TRADE_CONDITIONS: tuple[str, ...] = ("v{major}",)',
        )
    if broken:
        text += f'\nraise ImportError("version {major} is broken on purpose")\n'
    version.write_text(text)
    return copy


@pytest.fixture
def example_v1(tmp_path):
    _pip(str(_version(tmp_path, 1)))
    try:
        yield
    finally:
        subprocess.run(
            [sys.executable, "-m", "pip", "uninstall", "-y", "-q", "mdc-example-venue"],
            capture_output=True,
            timeout=120,
            check=False,
        )


def _provider(data_dir: Path) -> dict:
    try:
        return json.loads((data_dir / "status.json").read_text())["rows"]["provider:example"]
    except (OSError, ValueError, KeyError):
        return {}


def _running(data_dir: Path, plugin: str, messages_after: int = 0):
    def check():
        row = _provider(data_dir)
        ok = row.get("plugin") == plugin and row.get("state") == "running"
        return ok and row.get("messages", 0) > messages_after and row

    return check


def _reload(data_dir: Path) -> subprocess.CompletedProcess:
    argv = [MDC, "plugins", "reload", "example", "--data-dir", str(data_dir), "--timeout", "90"]
    return subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)


def test_the_installed_example_is_listed_and_passes_its_own_tests(example_v1):
    listing = subprocess.run(
        [MDC, "plugins", "list"], capture_output=True, text=True, timeout=60, check=True
    ).stdout
    rows = {line.split()[0]: line for line in listing.splitlines()[1:] if not line[0].isspace()}
    assert {"alpaca", "binance", "coinbase", "kraken", "example"} <= set(rows), listing
    assert "mdc-example-venue" in rows["example"] and "1.0.0" in rows["example"]
    assert "trades,book book:update_ids" in rows["example"]
    tests = EXAMPLE / "tests"
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tests)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        cwd=EXAMPLE,
    )
    assert done.returncode == 0, done.stdout[-3000:]


def test_reload_switches_versions_without_losing_or_doubling_a_trade(example_v1, tmp_path):
    data_dir = tmp_path / "data"
    config = tmp_path / "mdc.toml"
    config.write_text(CONFIG)
    argv = [MDC, "run", "--config", str(config), "--data-dir", str(data_dir)]
    argv += ["--duration", "240", "--no-api", "--no-grpc"]
    log = tmp_path / "run.log"
    with open(log, "w") as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT)
    try:
        v1 = "mdc-example-venue 1.0.0"
        wait_until_sync(_running(data_dir, v1, 50), 90, "version 1 streaming", 0.25)

        version_2 = _version(tmp_path, 2)
        _pip("--upgrade", str(version_2))
        done = _reload(data_dir)
        assert done.returncode == 0, done.stdout + done.stderr
        assert "now running mdc-example-venue 2.0.0 (was mdc-example-venue 1.0.0)" in done.stdout
        v2 = "mdc-example-venue 2.0.0"
        row = wait_until_sync(_running(data_dir, v2, 50), 60, "version 2 streaming", 0.25)

        _pip("--upgrade", str(_version(tmp_path, 3, broken=True)))
        refused = _reload(data_dir)
        assert refused.returncode == 1, refused.stdout + refused.stderr
        assert "cannot run" in refused.stdout and "broken on purpose" in refused.stdout
        # version 2 still runs, in the same provider, and goes on streaming
        again = wait_until_sync(
            _running(data_dir, v2, row["messages"] + 20), 30, "version 2 still streaming", 0.25
        )
        assert again["started_ns"] == row["started_ns"]
        _pip("--force-reinstall", str(version_2))  # the operator rolls the broken upgrade back
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=90)
    assert proc.returncode == 0, log.read_text()[-3000:]

    argv = [MDC, "verify", "--data-dir", str(data_dir)]
    verify = subprocess.run(argv, capture_output=True, text=True, timeout=300, check=False)
    assert verify.returncode == 0, verify.stdout[-3000:] + verify.stderr[-2000:]
    with Store.open(str(data_dir), readonly=True) as store:
        kinds = Counter(e.conditions for e in store.iter_events(types=["trade"]))
    assert kinds[()] > 0 and kinds[("v2",)] > 0, kinds  # both versions stored trades
    assert set(kinds) == {(), ("v2",)}, kinds  # and version 3 never ran
