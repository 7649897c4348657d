"""Alerting through the faults: an alert follower of the writer's log, with the seed's
provider_disconnect and data_gap rules at chaos scale (a partition holds seconds, not minutes)
and the default inhibition, notifying a local webhook receiver. The run records every transition
and every notification; `invariants.partition_alerted` judges them against the partition steps.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass, field

import orjson
import yaml

from actors.supervisor import Supervisor
from alerts.delivery import Undeliverable
from alerts.follower import AlertFollower
from chaos.receiver import CaptureServer
from mdc.alerts.config import alert_config_of
from mdc.alerts.evaluator import Transition
from mdc.store.follow import Position
from serve.streaming.tails import WriterTails

DISCONNECT_FOR_S = 1.0
RULES = f"""
alerts:
  - name: provider_disconnect
    condition: "provider_status != 'connected' for {DISCONNECT_FOR_S} seconds"
    severity: critical
  - name: data_gap
    condition: "time_since_last_trade > 1 second"
    severity: critical
route:
  receiver: hook
  group_by: ['...']
  group_wait: 2s
  group_interval: 1s
receivers:
  - name: hook
    webhook_configs: [{{url: URL}}]
"""


@dataclass
class AlertsUnderFaults:
    data_dir: str
    supervisor: Supervisor
    transitions: list[tuple[int, Transition]] = field(default_factory=list)
    """(wall time the dispatcher got it, transition)."""
    undelivered: list[Undeliverable] = field(default_factory=list)
    receiver: CaptureServer = field(default_factory=CaptureServer)
    _task: asyncio.Task | None = None

    async def __aenter__(self) -> AlertsUnderFaults:
        await self.receiver.__aenter__()
        document = yaml.safe_load(RULES.replace("URL", self.receiver.url))
        config = alert_config_of(document, "chaos", {})
        tails = WriterTails(lambda: self.supervisor.writer)
        self._follower = AlertFollower(
            self.data_dir,
            config,
            tails,
            self.undelivered.append,
            # From the store's start (this scenario's own, a few seconds old): the evaluator
            # knows every instrument and venue before the first fault. Started at the durable
            # end, it could meet a partition before its first binance trade, and a data_gap
            # needs one (a CI run failed that way).
            Position.of({}),
            observer=lambda t: self.transitions.append((time.time_ns(), t)),
        )
        await self._follower.start()
        self._task = asyncio.create_task(self._follower.run())
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._follower.stop()
        await self.receiver.__aexit__(*exc)

    def notified(self) -> list[tuple[int, dict]]:
        """(wall time it arrived, alert) of every notification (each alert its own group)."""
        return [
            (r.at_ns, a) for r in self.receiver.requests for a in orjson.loads(r.body)["alerts"]
        ]
