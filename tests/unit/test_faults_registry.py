"""The fault registry: every built-in resolves to a fault class of the declared kind; unknown
names and bad parameters are typed errors; heal is idempotent."""

import random
import shutil

import pytest

from chaos.faults.base import (
    Applied,
    BaseFault,
    FaultContext,
    FaultParamError,
    FaultSetupError,
    FaultStateError,
    FaultTargetError,
    UnknownFault,
)
from chaos.faults.registry import BUILTIN, fault_class, fault_names, make_fault


def test_every_builtin_resolves_to_a_fault_of_a_known_kind():
    assert set(BUILTIN) <= set(fault_names())
    for name in BUILTIN:
        cls = fault_class(name)
        assert cls.name == name
        assert cls.kind in ("network", "storage", "process")


def test_unknown_fault_is_a_typed_error_naming_the_known_ones():
    with pytest.raises(UnknownFault, match="disk_full"):
        fault_class("no_such_fault")


def test_bad_parameters_are_typed_errors():
    with pytest.raises(FaultParamError, match="unexpected keyword"):
        make_fault("kill_actor", target="writer", colour="red")
    with pytest.raises(FaultParamError, match="leave_bytes"):
        make_fault("disk_full", leave_bytes=-1)


def test_heal_before_inject_is_a_no_op_and_a_missing_context_part_is_a_setup_error(tmp_path):
    ctx = FaultContext(rng=random.Random(1))
    fault = make_fault("disk_full")
    fault.heal(ctx)
    assert fault.record is None
    with pytest.raises(FaultSetupError, match="data_dir"):
        fault.inject(ctx)
    ctx.data_dir = str(tmp_path)
    with pytest.raises(FaultSetupError, match="refuses to fill"):
        fault.inject(ctx)


def test_targets_are_picked_by_glob_with_the_scenario_rng():
    names = ["books:kraken", "provider:binance", "provider:kraken", "writer"]
    picks = {
        FaultContext(rng=random.Random(s)).pick("provider:*", names, "actor") for s in range(20)
    }
    assert picks == {"provider:binance", "provider:kraken"}
    ctx = FaultContext(rng=random.Random(1))
    with pytest.raises(FaultTargetError, match="no actor 'writer'"):
        ctx.actor("writer")


class _Counting(BaseFault):
    """The smallest real fault: counts applications and undos."""

    name = "counting"
    kind = "process"

    def __init__(self) -> None:
        super().__init__()
        self.applied = self.undone = 0

    def _apply(self, ctx):
        self.applied += 1
        return Applied("t", {"n": self.applied})

    def _undo(self, ctx):
        self.undone += 1


def test_inject_twice_is_misuse_heal_is_idempotent_and_stamps_the_record():
    ticks = iter(range(100, 200))
    ctx = FaultContext(rng=random.Random(1), clock=lambda: next(ticks))
    fault = _Counting()
    record = fault.inject(ctx)
    assert (record.name, record.target, record.injected_at_ns, record.healed_at_ns) == (
        "counting",
        "t",
        100,
        None,
    )
    with pytest.raises(FaultStateError):
        fault.inject(ctx)
    fault.heal(ctx)
    fault.heal(ctx)
    assert (fault.undone, record.healed_at_ns) == (1, 101)
    again = fault.inject(ctx)
    assert again is not record and again.detail == {"n": 2}


@pytest.mark.skipif(shutil.which("fiu-ctrl") is not None, reason="libfiu is installed here")
def test_libfiu_io_errors_without_fiu_are_a_setup_error():
    ctx = FaultContext(rng=random.Random(1), actors={"writer": object()})
    with pytest.raises(FaultSetupError, match="fiu-utils"):
        make_fault("io_error", mechanism="libfiu").inject(ctx)


@pytest.mark.parametrize(
    ("name", "params", "message"),
    [
        ("io_error", {"op": "chmod"}, "op must be one of"),
        ("io_error", {"mechanism": "fuse"}, "mechanism must be one of"),
        ("slow_fsync", {"delay_s": 0}, "delay_s"),
        ("netns_partition", {"method": "netem"}, "method must be one of"),
        ("proxy_latency", {"latency_ms": 10, "jitter_ms": 20}, "jitter_ms"),
        ("proxy_bandwidth", {"stream": "sideways"}, "stream must be one of"),
        ("proxy_reset", {"toxicity": 1.5}, "toxicity"),
        ("kill_actor", {"how": "SIGTERM"}, "how must be one of"),
        ("hang_actor", {"seconds": 0}, "seconds"),
    ],
)
def test_out_of_range_parameters_name_the_parameter(name, params, message):
    with pytest.raises(FaultParamError, match=message):
        make_fault(name, **params)


def test_kill_node_without_a_cluster_is_a_setup_error():
    with pytest.raises(FaultSetupError, match="cluster"):
        make_fault("kill_node").inject(FaultContext(rng=random.Random(1)))
