"""Replication under test: a light primary (`mdc run --local`) and a follower (`mdc replicate`)
as processes, the primary's store served on its own once the collector stopped (so the follower
can finish), and the comparison of two logs record for record. Used by the `region_partition`
chaos scenario, the failover drill and benchmarks/replication.py."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from actors.waiting import wait_until_sync
from mdc.store import Store
from mdc.store.streams import Stream
from serve.auth import KeyRing
from serve.replication.follower import STATUS_FILE
from serve.streaming.grpc_server import MarketDataServer
from serve.streaming.standalone import ServerThread
from serve.streaming.tails import StoreTails

MDC = (sys.executable, "-m", "mdc.cli")
STOP_TIMEOUT_S = 60


class Primary:
    """`mdc run --local` (collection, and its gRPC market data and replication on `port`) as a
    child process in a session of its own; its output goes to `<data dir>.run.log`."""

    def __init__(self, data_dir: Path, port: int, key: str, venues: tuple[str, ...] = ()) -> None:
        self.data_dir, self.port = data_dir, port
        self.log = data_dir.parent / f"{data_dir.name}.run.log"
        argv = [*MDC, "run", "--local", "--data-dir", str(data_dir), "--no-api"]
        argv += ["--grpc-port", str(port), *(["--venues", ",".join(venues)] if venues else [])]
        data_dir.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log, "a") as out:
            self.proc = subprocess.Popen(
                argv,
                stdout=out,
                stderr=subprocess.STDOUT,
                env={**os.environ, "MDC_API_KEYS": key},
                start_new_session=True,
            )
        serving = lambda: "replication on" in self.log.read_text()  # noqa: E731
        wait_until_sync(serving, STOP_TIMEOUT_S, "the primary serving its log")

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.port}"

    def output(self) -> str:
        return self.log.read_text()

    def stop(self) -> int:
        """Ctrl-C (it drains and fsyncs); the exit status."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        return self.proc.wait(STOP_TIMEOUT_S)

    def kill(self) -> None:
        """SIGKILL to its whole session: a region lost, no drain."""
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(30)


@dataclass
class Replica:
    """`mdc replicate --from TARGET --data-dir DIR` as a child process; stderr to a file."""

    target: str
    data_dir: Path
    key: str
    extra: tuple[str, ...] = ()
    proc: subprocess.Popen | None = None
    _log: IO[str] | None = field(default=None, repr=False)

    def start(self) -> Replica:
        argv = [*MDC, "replicate", "--from", f"grpc://{self.target}"]
        argv += ["--data-dir", str(self.data_dir), "--progress", "2", *self.extra]
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._log = open(self.data_dir.parent / f"{self.data_dir.name}.replicate.log", "a")  # noqa: SIM115
        env = {**os.environ, "MDC_API_KEY": self.key}
        self.proc = subprocess.Popen(
            argv, stdout=self._log, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )
        return self

    def status(self) -> dict:
        """The follower's last written status (lag, ends), or {} before its first."""
        try:
            return json.loads((self.data_dir / STATUS_FILE).read_text())
        except (FileNotFoundError, ValueError):
            return {}

    def output(self) -> str:
        return (self.data_dir.parent / f"{self.data_dir.name}.replicate.log").read_text()

    def stop(self) -> int:
        """Ctrl-C, as an operator would; the exit status."""
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        code = self.proc.wait(STOP_TIMEOUT_S)
        if self._log is not None:
            self._log.close()
        return code


def replicate_once(
    target: str, data_dir: Path, key: str, *extra: str
) -> subprocess.CompletedProcess:
    """`mdc replicate --exit-when-caught-up`: copy until caught up, then exit."""
    argv = [*MDC, "replicate", "--from", target, "--data-dir", str(data_dir)]
    argv += ["--exit-when-caught-up", *extra]
    env = {**os.environ, "MDC_API_KEY": key}
    return subprocess.run(
        argv, capture_output=True, text=True, env=env, timeout=STOP_TIMEOUT_S * 2, check=False
    )


@contextlib.contextmanager
def served(data_dir: Path, key: str, port: int = 0) -> Iterator[str]:
    """A stopped primary's store served (market data and replication) on 127.0.0.1:port."""
    server = MarketDataServer(str(data_dir), StoreTails(str(data_dir), every_s=0.2), KeyRing([key]))
    with ServerThread(server) as thread:
        yield thread.start("127.0.0.1", port)


def log_of(data_dir: Path) -> dict[Stream, list[tuple[int, bytes]]]:
    """Every stored event of every stream, with its seq, as stored (msgpack bytes)."""
    with Store.open(str(data_dir), readonly=True) as store:
        return {s: list(store.wal.read(s)) for s in store.wal.streams()}


def log_differences(primary: Path, replica: Path) -> list[str]:
    """Where the replica's log is not the primary's, record for record (empty: identical)."""
    mine, theirs = log_of(primary), log_of(replica)
    out = [f"{s.dirname}: missing on the replica" for s in mine if s not in theirs]
    out += [f"{s.dirname}: only on the replica" for s in theirs if s not in mine]
    for stream in sorted(set(mine) & set(theirs)):
        a, b = mine[stream], theirs[stream]
        if a != b:
            first = next(
                (i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y),
                min(len(a), len(b)),
            )
            out.append(
                f"{stream.dirname}: {len(a)} vs {len(b)} events, first difference at {first}"
            )
    return out


def caught_up(replica: Replica, primary: Path) -> bool:
    """The replica's durable ends (its status) are the primary's."""
    with Store.open(str(primary), readonly=True) as store:
        ends = {s.dirname: seq for s, seq in store.wal.positions().items()}
    return replica.status().get("ends") == ends


def wait_caught_up(replica: Replica, primary: Path, timeout_s: float = 60) -> None:
    wait_until_sync(lambda: caught_up(replica, primary), timeout_s, "the replica caught up")
