"""Locust file: GET /v1/features/{venue}/{symbol} over the configured instruments."""

from __future__ import annotations

from urllib.parse import quote

from locust import task

from loadtests.locust_common import ApiUser
from loadtests.workload import FEATURES_NAME, features_problem


class FeaturesUser(ApiUser):
    @task
    def features(self) -> None:
        venue, symbol = self.pick_instrument()
        path = f"/v1/features/{quote(venue, safe='')}/{quote(symbol, safe='')}"
        self.get_checked(path, FEATURES_NAME, lambda body: features_problem(body, venue, symbol))
