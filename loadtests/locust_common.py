"""Locust plumbing shared by predict.py and features.py: options, the API key, response judging.

Options come from the Locust command line or the environment (the runner uses the environment, so
the API key never appears in a process list). Any non-2xx answer, or a 2xx answer whose body lacks
the contract's fields, is recorded as a failure.
"""

from __future__ import annotations

import csv
import itertools
import random
from collections.abc import Callable
from typing import Any

import gevent
import locust.stats
from locust import HttpUser, events
from locust.clients import ResponseContextManager
from locust.env import Environment

from loadtests.workload import (
    DEFAULT_GRPC_TARGET,
    DEFAULT_INSTRUMENTS,
    DEFAULT_THINK_S,
    ENV_API_KEY,
    ENV_FEATURE_COUNT,
    ENV_GRPC_TARGET,
    ENV_INSTRUMENTS,
    ENV_SEED,
    ENV_THINK_S,
    FINAL_FAILURES_SUFFIX,
    FINAL_STATS_SUFFIX,
    format_instruments,
    parse_instruments,
)

# Locust's documented knob: flush the CSV files every second so progress can be read while running.
locust.stats.CSV_STATS_FLUSH_INTERVAL_SEC = 1

Problem = Callable[[Any], str | None]
_user_numbers = itertools.count()


@events.init_command_line_parser.add_listener
def _add_options(parser: Any) -> None:
    parser.add_argument(
        "--mdc-api-key", env_var=ENV_API_KEY, default="", include_in_web_ui=False,
        help="API key sent as X-API-Key",
    )  # fmt: skip
    parser.add_argument(
        "--mdc-instruments", env_var=ENV_INSTRUMENTS,
        default=format_instruments(DEFAULT_INSTRUMENTS), help="comma-separated venue:SYMBOL list",
    )  # fmt: skip
    parser.add_argument(
        "--mdc-feature-count", env_var=ENV_FEATURE_COUNT, type=int, default=0,
        help="length of explicit feature vectors; 0 = ask GET /v1/models at start",
    )  # fmt: skip
    parser.add_argument(
        "--mdc-seed", env_var=ENV_SEED, type=int, default=0, help="seed for generated requests"
    )
    parser.add_argument(
        "--mdc-think-s", env_var=ENV_THINK_S, type=float, default=DEFAULT_THINK_S,
        help="pause between one user's requests, seconds",
    )  # fmt: skip
    parser.add_argument(
        "--mdc-grpc-target", env_var=ENV_GRPC_TARGET, default=DEFAULT_GRPC_TARGET,
        help="HOST:PORT of the gRPC market data (stream scenario)",
    )  # fmt: skip


@events.init.add_listener
def _refresh_clock(**_: Any) -> None:
    """gevent's loop clock is stale after Locust's imports, so `-t 30s` would stop a second or more
    early (the timer is armed against the stale clock); refresh it before the timer is armed."""
    gevent.get_hub().loop.update_now()


@events.test_stop.add_listener
def _write_final_csv(environment: Environment, **_: Any) -> None:
    """Locust's own `--csv` files lag up to a second; write the exact final numbers once."""
    prefix = environment.parsed_options.csv_prefix if environment.parsed_options else None
    if not prefix:
        return
    writer = locust.stats.StatsCSV(environment, locust.stats.PERCENTILES_TO_REPORT)
    with open(prefix + FINAL_STATS_SUFFIX, "w", newline="") as stats_file:
        writer.requests_csv(csv.writer(stats_file))
    with open(prefix + FINAL_FAILURES_SUFFIX, "w", newline="") as failures_file:
        writer.failures_csv(csv.writer(failures_file))


def judge(response: ResponseContextManager, problem_of: Problem) -> None:
    """Mark the response failed unless it is 2xx with a JSON body `problem_of` accepts."""
    if response.status_code == 0:
        response.failure(f"connection error: {type(response.error).__name__}")
        return
    if not 200 <= response.status_code < 300:
        response.failure(f"HTTP {response.status_code}")
        return
    try:
        body = response.json()
    except ValueError:
        response.failure("2xx body is not JSON")
        return
    problem = problem_of(body)
    if problem is None:
        response.success()
    else:
        response.failure(f"bad body: {problem}")


class ApiUser(HttpUser):
    """One API client: authenticated session, seeded generator, the configured instruments."""

    abstract = True

    def wait_time(self) -> float:
        return self.think_s

    def on_start(self) -> None:
        options = self.environment.parsed_options
        self.think_s: float = options.mdc_think_s
        self.instruments = parse_instruments(options.mdc_instruments)
        self.rng = random.Random(options.mdc_seed * 100_003 + next(_user_numbers))
        if options.mdc_api_key:
            self.client.headers["X-API-Key"] = options.mdc_api_key

    def pick_instrument(self) -> tuple[str, str]:
        return self.rng.choice(self.instruments)

    def get_checked(self, path: str, name: str, problem_of: Problem) -> None:
        with self.client.get(path, name=name, catch_response=True) as response:
            judge(response, problem_of)

    def post_checked(self, path: str, name: str, body: dict, problem_of: Problem) -> None:
        with self.client.post(path, json=body, name=name, catch_response=True) as response:
            judge(response, problem_of)
