"""Locust file: POST /v1/predict, half with explicit feature vectors, half by venue+symbol.

Vector length comes from --mdc-feature-count / MDC_LOAD_FEATURE_COUNT, or, when that is 0, from
GET /v1/models (each vector is then pinned to the model version it was sized for). A failed lookup
counts as a failure and is retried on the next vector task, so a server that is down at start (as in
a chaos run) does not silence these users for the rest of the test.
"""

from __future__ import annotations

from locust import task

from loadtests.locust_common import ApiUser
from loadtests.workload import (
    MODELS_PATH,
    PREDICT_PATH,
    LoadRunError,
    feature_counts,
    prediction_problem,
)


class PredictUser(ApiUser):
    def on_start(self) -> None:
        super().on_start()
        count = self.environment.parsed_options.mdc_feature_count
        self.vector_shapes: list[tuple[str | None, int]] = [(None, count)] if count > 0 else []

    def _discover_shapes(self) -> list[tuple[str | None, int]]:
        counts: dict[str, int] = {}

        def problem(body: object) -> str | None:
            try:
                counts.update(feature_counts(body))
            except LoadRunError as exc:
                return str(exc)
            return None

        self.get_checked(MODELS_PATH, MODELS_PATH, problem)
        return sorted(counts.items())

    @task
    def predict_vector(self) -> None:
        if not self.vector_shapes:
            self.vector_shapes = self._discover_shapes()
            return
        version, length = self.rng.choice(self.vector_shapes)
        body: dict = {"features": [round(self.rng.gauss(0.0, 1.0), 6) for _ in range(length)]}
        if version is not None:
            body["model"] = version
        self.post_checked(PREDICT_PATH, f"{PREDICT_PATH} features", body, prediction_problem)

    @task
    def predict_instrument(self) -> None:
        venue, symbol = self.pick_instrument()
        body = {"venue": venue, "symbol": symbol}
        self.post_checked(PREDICT_PATH, f"{PREDICT_PATH} venue+symbol", body, prediction_problem)
