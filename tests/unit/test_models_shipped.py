"""The two shipped models load, take live feature vectors and name the data they were trained on."""

from __future__ import annotations

import hashlib
import re

import pytest

from mdc.events import to_msgpack
from mdc.features import FeatureConfig, FeatureTracker
from models.commands import DEFAULT_FEATURES
from models.runtime import SHIPPED, discover_models
from models.synthetic import synthetic_events


@pytest.fixture(scope="module")
def shipped():
    return discover_models()


def test_two_versions_ship(shipped):
    assert [(m.name, m.version) for m in shipped] == [("direction", "v1"), ("direction", "v2")]
    assert [m.card["training"]["kind"] for m in shipped] == ["logreg", "gbc"]
    for model in shipped:
        assert model.features == DEFAULT_FEATURES
        assert set(model.features) <= set(FeatureConfig.default().names)
        assert (SHIPPED / f"direction-{model.version}" / "model.onnx").stat().st_size < 300_000
        assert model.card["metrics"]["onnx_max_abs_prob_diff"] < 1e-5
        assert model.card["metrics"]["n_test"] > 500


def test_predict_from_a_live_feature_vector(shipped):
    tracker = FeatureTracker(FeatureConfig.default())
    for event in synthetic_events(21, 30):
        tracker.on_event(event)
    vector = tracker.vector("binance", "BTC-USDT")
    assert vector is not None and vector.values["rv_15m"] is None  # still warming up
    for model in shipped:
        (prediction,) = model.predict_matrix(model.vectorize(vector.values))
        assert 0.0 < prediction.probability_up < 1.0
        assert prediction.label == int(prediction.probability_up > 0.5)


def test_card_names_the_exact_training_data(shipped):
    """The card's source regenerates events whose sha256 is the card's (the README's command)."""
    data = shipped[0].card["data"]
    assert all(m.card["data"] == data for m in shipped)
    seconds, seed = map(
        int,
        re.fullmatch(r"synthetic: --synthetic-seconds (\d+) --seed (\d+)", data["source"]).groups(),
    )
    digest = hashlib.sha256()
    count = 0
    for event in synthetic_events(seed, seconds):
        digest.update(to_msgpack(event))
        count += 1
    assert (count, digest.hexdigest()) == (data["events"], data["sha256"])
