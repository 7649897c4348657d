"""Locust file: users that each hold a live gRPC subscription (SubscribeTrades of the
configured instruments) for the whole run.

Every event received is one Locust "request" named `SubscribeTrades`: its response time is the
event's age on arrival (receive time at the collector -> this user), so the table shows the
delivery rate and freshness percentiles. A stream that breaks is a failure; the user then
resumes from the last position it got (nothing missed, nothing repeated).
"""

from __future__ import annotations

import time

from grpc.experimental import gevent as grpc_gevent

grpc_gevent.init_gevent()  # before any channel: grpc's I/O must yield to gevent

import gevent  # noqa: E402
from locust import User, constant, events, task  # noqa: E402

from loadtests.locust_common import _add_options  # noqa: E402, F401 - registers the options
from loadtests.workload import parse_instruments  # noqa: E402
from mdc.client import MarketDataClient, SubscriptionError  # noqa: E402

NAME = "SubscribeTrades"
RESUME_PAUSE_S = 0.5


class StreamUser(User):
    wait_time = constant(0)

    def on_start(self) -> None:
        options = self.environment.parsed_options
        instruments = parse_instruments(options.mdc_instruments)
        self.filters = {
            "venues": sorted({venue for venue, _ in instruments}),
            "symbols": sorted({symbol for _, symbol in instruments}),
        }
        self.client = MarketDataClient(
            options.mdc_grpc_target, api_key=options.mdc_api_key, max_reconnects=0
        )
        self.position: str | None = None

    @task
    def hold(self) -> None:
        try:
            for got in self.client.subscribe("trades", start=self.position, **self.filters):
                self.position = got.position
                age_ms = max(0.0, (time.time_ns() - got.event.ts_recv) / 1e6)
                self._record(age_ms, None)
        except SubscriptionError as exc:
            self._record(0.0, exc)
            gevent.sleep(RESUME_PAUSE_S)

    def _record(self, ms: float, error: Exception | None) -> None:
        events.request.fire(
            request_type="grpc",
            name=NAME,
            response_time=ms,
            response_length=1,
            exception=error,
            context={},
        )

    def on_stop(self) -> None:
        self.client.close()
