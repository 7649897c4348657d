"""Run one scenario: the live system (simulator → proxies → Ray actors → store), the prediction
API under Locust load, the seeded fault schedule, then the guarantees checked against the
simulator's ground truth.

Timeline: warm up until events are stored and the API answers; the fault phase lasts
`duration_s` (steps injected at their offsets, healed after their hold, recovery timed after
each heal); then everything still injected is healed, the system must recover, the load stops,
the collector drains, and the checks run.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chaos.faults.base import FaultContext, FaultError, FaultRecord
from chaos.faults.registry import make_fault
from chaos.harness import LiveSystem, SystemConfig, recover, storing_more_than, wait_until
from chaos.scenarios import invariants
from chaos.scenarios.alerting import DISCONNECT_FOR_S, AlertsUnderFaults
from chaos.scenarios.api import ApiUnderLoad
from chaos.scenarios.base import Scenario, Step
from chaos.scenarios.region_partition import REPLICA_LINK
from chaos.scenarios.replica import ReplicaUnderFaults
from chaos.scenarios.subscribers import SubscribersUnderFaults, stored_trades
from mdc.verify import VerifyReport

SETTLE_EVENTS = 200
"""Events stored before faults start, and again after each heal, to call the system recovered."""
MEMORY_EVERY_S = 1.0


@dataclass
class StepResult:
    step: Step
    record: FaultRecord | None = None
    error: str = ""
    recovery_s: float | None = None

    def as_dict(self) -> dict[str, Any]:
        record = self.record
        return {
            **self.step.as_dict(),
            "target": record.target if record else None,
            "injected_at_ns": record.injected_at_ns if record else None,
            "healed_at_ns": record.healed_at_ns if record else None,
            "detail": record.detail if record else {},
            "error": self.error,
            "recovery_s": self.recovery_s,
        }


@dataclass
class ScenarioResult:
    scenario: str
    seed: int
    duration_s: float
    started_ns: int
    steps: list[StepResult] = field(default_factory=list)
    checks: list[invariants.InvariantResult] = field(default_factory=list)
    verify: VerifyReport | None = None
    load: dict[str, Any] = field(default_factory=dict)
    peak_rss_mb: dict[str, float] = field(default_factory=dict)
    writer: dict[str, Any] = field(default_factory=dict)
    """The last writer incarnation's counters: stored, failures and DLQ entries by cause."""
    final_recovery_s: float | None = None
    wall_s: float = 0.0
    error: str = ""

    @property
    def ok(self) -> bool:
        return not self.error and bool(self.checks) and all(c.ok for c in self.checks)


def run_scenario(
    scenario: Scenario,
    *,
    duration_s: float,
    seed: int,
    work_dir: Path,
    toxiproxy_url: str,
    progress: Callable[[str], None] = lambda line: None,
) -> ScenarioResult:
    """Blocking: one scenario from start to verdict (Ray must be initialised)."""
    return asyncio.run(_Run(scenario, duration_s, seed, work_dir, toxiproxy_url, progress).run())


@dataclass
class _Run:
    scenario: Scenario
    duration_s: float
    seed: int
    work_dir: Path
    toxiproxy_url: str
    progress: Callable[[str], None]
    result: ScenarioResult = field(init=False)
    subscribers: SubscribersUnderFaults = field(init=False)
    replica: ReplicaUnderFaults | None = None
    alerting: AlertsUnderFaults = field(init=False)
    _memory_stop: asyncio.Event = field(default_factory=asyncio.Event)

    async def run(self) -> ScenarioResult:
        started = time.monotonic()
        self.result = ScenarioResult(self.scenario.name, self.seed, self.duration_s, time.time_ns())
        schedule = self.scenario.schedule(self.seed, self.duration_s)
        self.result.steps = [StepResult(step) for step in schedule]
        config = SystemConfig(
            self.scenario.venues,
            self.work_dir / "data",
            seed=self.seed,
            writer_faults=self.scenario.writer_faults,
            toxiproxy_url=self.toxiproxy_url,
        )
        try:
            async with LiveSystem(config) as system:
                await self._live(system)
            self._judge(system)
        except (AssertionError, FaultError, OSError) as exc:
            self.result.error = f"{type(exc).__name__}: {exc}"
        self.result.wall_s = time.monotonic() - started
        return self.result

    async def _live(self, system: LiveSystem) -> None:
        supervisor = system.supervisor
        await wait_until(storing_more_than(supervisor, SETTLE_EVENTS), 60, "first stored events")
        self.progress(f"{self.scenario.name}: collecting; starting the prediction API")
        api = ApiUnderLoad(
            self.scenario.load, self.work_dir / "load", self.duration_s, system.namespace
        )
        subscribers = SubscribersUnderFaults(str(system.config.data_dir), supervisor)
        alerting = AlertsUnderFaults(str(system.config.data_dir), supervisor)
        async with api, subscribers, alerting, self._replica(subscribers):
            self.subscribers, self.alerting = subscribers, alerting
            memory = asyncio.create_task(self._sample_memory(system))
            proxies = {venue: venue for venue in system.proxies}
            if self.replica is not None:
                proxies[REPLICA_LINK] = REPLICA_LINK
            ctx = FaultContext(
                rng=random.Random(self.seed),
                data_dir=str(system.config.data_dir),
                supervisor=supervisor,
                toxiproxy_url=self.toxiproxy_url,
                proxies=proxies,
            )
            await self._play(ctx, system, api, subscribers)
            self.result.final_recovery_s = await recover(supervisor, SETTLE_EVENTS)
            self._memory_stop.set()
            await memory
        self.result.load = api.summary()

    def _replica(
        self, subscribers: SubscribersUnderFaults
    ) -> contextlib.AbstractAsyncContextManager:
        """A follower in another region, for scenarios that have one."""
        if not self.scenario.replica:
            return contextlib.nullcontext()
        self.replica = ReplicaUnderFaults(
            self.work_dir, self.toxiproxy_url, subscribers.port, subscribers.key
        )
        return self.replica

    async def _play(
        self,
        ctx: FaultContext,
        system: LiveSystem,
        api: ApiUnderLoad,
        subscribers: SubscribersUnderFaults,
    ) -> None:
        """Each step in its own task: inject at its offset, heal after its hold, time recovery;
        the load spike and the subscribers' server restart at theirs."""
        phase = time.monotonic()
        tasks = [asyncio.create_task(self._step(ctx, system, r, phase)) for r in self.result.steps]
        spike = asyncio.create_task(api.spike(phase))
        restart = asyncio.create_task(subscribers.restart_midway(phase, self.duration_s))
        await asyncio.sleep(self.duration_s)
        await asyncio.gather(*tasks, spike, restart)

    async def _step(self, ctx: FaultContext, system: LiveSystem, r: StepResult, phase: float):
        await asyncio.sleep(max(0.0, phase + r.step.at_s - time.monotonic()))
        fault = make_fault(r.step.fault, **r.step.params)
        self.progress(f"{self.scenario.name}: +{r.step.at_s:.1f}s inject {r.step.fault}")
        try:
            r.record = await asyncio.to_thread(fault.inject, ctx)
            await asyncio.sleep(r.step.hold_s)
        except FaultError as exc:
            r.error = str(exc)
        finally:
            await asyncio.to_thread(fault.heal, ctx)
        if r.record is None:
            return
        try:
            r.recovery_s = await recover(system.supervisor, SETTLE_EVENTS // 4)
        except AssertionError as exc:
            r.error = str(exc)
        took = "never" if r.recovery_s is None else f"{r.recovery_s:.1f} s"
        self.progress(f"{self.scenario.name}: healed {r.step.fault}, recovered in {took}")

    async def _sample_memory(self, system: LiveSystem) -> None:
        while not self._memory_stop.is_set():
            for name, pid in _actor_pids(system).items():
                rss = _rss_mb(pid)
                if rss is not None:
                    self.result.peak_rss_mb[name] = max(rss, self.result.peak_rss_mb.get(name, 0))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._memory_stop.wait(), MEMORY_EVERY_S)

    def _judge(self, system: LiveSystem) -> None:
        report = system.verify()
        slo = self.scenario.slo
        load = self.result.load
        self.result.verify = report
        self.result.writer = {
            key: system.writer_stats.get(key)
            for key in ("stored", "failures", "dlq_by_cause", "dlq_by_state")
        }
        recoveries = {
            f"{i}:{r.step.fault}": r.recovery_s for i, r in enumerate(self.result.steps) if r.record
        }
        self.result.checks = [
            invariants.trades_exactly_once(report, min_trades=50),
            invariants.books_exact(report, min_states=10),
            invariants.nothing_acknowledged_lost(
                system.drained, system.writer_stats.get("dlq_by_state", {})
            ),
            invariants.memory_bounded(self.result.peak_rss_mb, slo),
            invariants.recovered_in_time(recoveries, slo),
            invariants.prediction_slo(
                load.get("requests", 0), load.get("error_rate", 1.0), load.get("p99_ms"), slo
            ),
            invariants.subscribers_saw_trades_once(
                self.subscribers.received_trades(),
                stored_trades(str(system.config.data_dir)),
                min_trades=50,
            ),
            invariants.subscriber_books_in_order(self.subscribers.depth_seqs(), min_views=10),
        ]
        partitions = [
            invariants.Partition(r.record.target, r.record.injected_at_ns, r.record.healed_at_ns)
            for r in self.result.steps
            if r.step.fault == "proxy_down" and r.record and r.record.healed_at_ns
        ]
        if self.replica is not None:
            self.replica.converge(system.config.data_dir)
            self.result.checks.append(
                invariants.replica_converged(
                    self.replica.differences,
                    self.replica.error,
                    self.replica.max_heartbeat_age_s,
                    max(r.step.hold_s for r in self.result.steps if r.step.fault == "proxy_down"),
                )
            )
            partitions = [p for p in partitions if p.venue != REPLICA_LINK]
        if partitions:
            self.result.checks.append(
                invariants.partition_alerted(
                    partitions,
                    self.alerting.transitions,
                    self.alerting.notified(),
                    self.scenario.venues,
                    int(DISCONNECT_FOR_S * 1e9),
                )
            )
        failed_steps = [f"{r.step.fault}: {r.error}" for r in self.result.steps if r.error]
        if failed_steps:
            self.result.error = "; ".join(failed_steps)


def _actor_pids(system: LiveSystem) -> dict[str, int]:
    return {
        name: child.last_ping["pid"]
        for name, child in system.supervisor.children.items()
        if isinstance(child.last_ping.get("pid"), int)
    }


def _rss_mb(pid: int) -> float | None:
    """Resident memory of a local process (actors on other nodes are not sampled)."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None
