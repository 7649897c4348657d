"""Replication between real processes on loopback: `mdc replicate` follows a running `mdc run
--local` over gRPC and ends with exactly its log; a refused key, an unreachable primary and a
position the primary's retention dropped are each said and handled; the failover drill kills
the primary, promotes the follower, and shows the old primary's later writes refused and moved
aside when it rejoins as a follower."""

from __future__ import annotations

import random
import subprocess
import time
from pathlib import Path

import grpc
import pytest

from actors.waiting import wait_until_sync
from chaos.replication import (
    MDC,
    Primary,
    Replica,
    log_differences,
    log_of,
    replicate_once,
    served,
    wait_caught_up,
)
from mdc.replication.epochs import ReplicationState, Role
from mdc.store import Store
from mdc.store.synth import trades
from mdc.v1 import replication_pb2 as pb
from mdc.v1 import replication_pb2_grpc as pb_grpc
from serve.deployment import free_port

KEY = "replication-test-key"


VENUES = ("binance", "coinbase")


def _primary(data_dir: Path) -> Primary:
    return Primary(data_dir, free_port(), KEY, VENUES)


def _stop(primary: Primary) -> None:
    assert primary.stop() == 0, primary.output()[-2000:]


def _events(replica: Replica) -> int:
    return sum(replica.status().get("ends", {}).values())


def _stored(data_dir: Path) -> int:
    with Store.open(str(data_dir), readonly=True) as store:
        return sum(store.wal.positions().values())


def test_a_follower_of_a_running_collector_ends_with_exactly_its_log(tmp_path):
    primary = _primary(tmp_path / "primary")
    replica_dir = tmp_path / "replica"
    try:
        first = Replica(primary.target, replica_dir, KEY).start()
        wait_until_sync(lambda: _events(first) > 1500, 60, "the follower applying events")
        assert first.stop() == 0  # Ctrl-C: resumes later from its durable ends
        resumed = Replica(primary.target, replica_dir, KEY).start()
        held = _events(first)
        wait_until_sync(lambda: _events(resumed) > held + 1000, 60, "the follower resuming")
        lag = resumed.status()
        assert lag["lag_seconds"] < 5 and lag["heartbeat_age_s"] < 5, lag
    finally:
        _stop(primary)
    with served(primary.data_dir, KEY, primary.port):
        wait_caught_up(resumed, primary.data_dir)
    assert resumed.stop() == 0
    assert log_differences(primary.data_dir, replica_dir) == []
    assert "caught up" not in resumed.output()  # it followed until stopped
    count = "SELECT venue, count(*), sum(size), max(price) FROM trades GROUP BY venue ORDER BY 1"
    with (
        Store.open(str(primary.data_dir), readonly=True) as a,
        Store.open(str(replica_dir), readonly=True) as b,
    ):
        assert a.query(count).rows == b.query(count).rows
    assert (replica_dir / "parquet").is_dir()  # its own projections, rebuilt from its log
    assert (primary.data_dir / "followers" / "replica-replica.pos").exists()
    state = ReplicationState.load(str(replica_dir))
    assert (state.role, state.primary) == (Role.FOLLOWER, primary.target)
    refused = subprocess.run(
        [*MDC, "run", "--local", "--data-dir", str(replica_dir), "--duration", "1"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert refused.returncode == 2
    assert "is a follower of" in refused.stderr and "mdc promote" in refused.stderr


def _store_with_trades(data_dir: Path, batches: int, first_batch: int = 0) -> None:
    with Store.open(str(data_dir), segment_bytes=2048) as store:
        rng = random.Random(first_batch)
        for i in range(first_batch, first_batch + batches):
            store.append(trades(rng, 30, first_id=1 + 30 * i, start_ns=10**18 + i * 10**9))
            store.commit()
        store.refresh()


def _ends(data_dir: Path) -> dict:
    with Store.open(str(data_dir), readonly=True) as store:
        return store.wal.positions()


def _hello_refused(target: str, name: str) -> grpc.StatusCode:
    """The status a primary answers a Hello naming the follower `name` with."""
    with grpc.insecure_channel(target) as channel:
        hello = pb.FollowMessage(hello=pb.Hello(follower=name))
        call = pb_grpc.ReplicationServiceStub(channel).FollowLog(
            iter([hello]), metadata=[("x-api-key", KEY)], timeout=30
        )
        with pytest.raises(grpc.RpcError) as refused:
            list(call)
    return refused.value.code()


def _until_said(replica: Replica, text: str) -> str:
    wait_until_sync(lambda: text in replica.output(), 60, repr(text))
    assert replica.stop() == 0
    return replica.output()


def test_a_refused_key_and_an_unreachable_primary_are_said_and_retried(tmp_path):
    primary = tmp_path / "primary"
    _store_with_trades(primary, 3)
    nobody = Replica(f"127.0.0.1:{free_port()}", tmp_path / "r1", KEY).start()
    _until_said(nobody, "the primary is unreachable")
    with served(primary, KEY) as target:
        wrong = Replica(target, tmp_path / "r2", "not-the-key").start()
        said = _until_said(wrong, "the primary refused our API key")
        assert said.count("refused our API key") == 1  # said once, retried quietly
        assert _hello_refused(target, "../x") == grpc.StatusCode.INVALID_ARGUMENT
    bad_name = replicate_once(f"127.0.0.1:{free_port()}", tmp_path / "r3", KEY, "--name", "../x")
    assert bad_name.returncode == 2
    assert "follower name '../x'" in bad_name.stderr
    assert log_of(tmp_path / "r1") == {} and log_of(tmp_path / "r2") == {}
    assert not (tmp_path / "r3").exists()  # refused before anything was made


def test_a_position_the_primary_dropped_is_re_bootstrapped(tmp_path):
    primary, replica = tmp_path / "primary", tmp_path / "replica"
    _store_with_trades(primary, 4)
    with served(primary, KEY) as target:
        copied = replicate_once(target, replica, KEY)
        assert copied.returncode == 0, copied.stderr
        again = replicate_once(target, replica, KEY)  # caught up: says where it is
        assert again.returncode == 0, again.stderr
    assert log_differences(primary, replica) == []
    held = _ends(replica)
    _store_with_trades(primary, 30, first_batch=4)
    with Store.open(str(primary), segment_bytes=2048) as store:
        # a follower's cursor holds what it needs while recent...
        assert store.apply_retention(time.time_ns(), max_bytes=1)
        assert all(store.wal.firsts()[s] <= seq for s, seq in held.items())
        # ...and no longer once past the hold: its segments go
        assert store.apply_retention(time.time_ns(), max_bytes=1, replica_hold_ns=0)
        first = store.wal.firsts()
    assert any(first[s] > seq for s, seq in held.items())
    with served(primary, KEY) as target:
        stuck = Replica(target, replica, KEY, ("--no-rebootstrap",)).start()
        _until_said(stuck, "retrying (--no-rebootstrap)")
        again = replicate_once(target, replica, KEY)
    assert again.returncode == 0, again.stderr
    assert "re-bootstrapping" in again.stderr
    ours, theirs = log_of(replica), log_of(primary)
    for stream, events in theirs.items():
        assert [e for e in ours[stream] if e[0] >= first[stream]] == events
    with Store.open(str(replica), readonly=True) as store:
        assert store.wal.positions() == {s: events[-1][0] + 1 for s, events in theirs.items()}


@pytest.mark.slow
def test_failover_drill_fences_the_old_primary_and_it_rejoins_as_a_follower(tmp_path):
    old = _primary(tmp_path / "a")
    follower_dir = tmp_path / "b"
    follower = Replica(old.target, follower_dir, KEY).start()
    wait_until_sync(lambda: _events(follower) > 1500, 60, "the follower applying events")
    old.kill()  # the primary's region is gone
    assert follower.stop() == 0
    at_kill, replicated = _stored(old.data_dir), _stored(follower_dir)
    promoted = subprocess.run(
        [*MDC, "promote", "--data-dir", str(follower_dir)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert promoted.returncode == 0, promoted.stderr
    assert "epoch 2" in promoted.stderr
    new = _primary(follower_dir)  # collecting again, as the new primary
    stale = _primary(old.data_dir)  # the old primary comes back, unaware
    wait_until_sync(lambda: _stored(old.data_dir) > at_kill + 500, 60, "stale writes")
    third = tmp_path / "c"
    joined = replicate_once(new.target, third, KEY)
    assert joined.returncode == 0, joined.stderr
    fenced = replicate_once(stale.target, third, KEY)
    assert fenced.returncode == 1
    assert "epoch 1" in fenced.stderr and "demoted" in fenced.stderr
    _stop(stale)
    rejoined = replicate_once(new.target, old.data_dir, KEY)
    assert rejoined.returncode == 0, rejoined.stderr
    assert "moved aside" in rejoined.stderr
    _stop(new)
    with served(new.data_dir, KEY) as target:
        final = replicate_once(target, old.data_dir, KEY)
    assert final.returncode == 0, final.stderr
    assert log_differences(new.data_dir, old.data_dir) == []
    state = ReplicationState.load(str(old.data_dir))
    assert (state.role, state.epoch) == (Role.FOLLOWER, 2)
    aside = list((old.data_dir / "diverged").rglob("*.seg"))
    assert aside and sum(p.stat().st_size for p in aside) > 0
    print(f"RPO: {at_kill - replicated} events durable on the old primary, not replicated")
