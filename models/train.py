"""Fit a small classifier on a Dataset, export it to ONNX and describe it in a card.

The split is by time (train on the earlier rows, test on the later ones), never shuffled, so the
test metrics are those of a model predicting a future it has not seen. Metrics are computed on
the exported ONNX model through the same runtime path serving uses, and the card records how
far its probabilities are from scikit-learn's on the test rows.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from onnx import ModelProto
from onnx.helper import make_opsetid
from skl2onnx import convert_sklearn
from skl2onnx.common.data_types import FloatTensorType
from sklearn.base import ClassifierMixin
from sklearn.ensemble import GradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, log_loss, roc_auc_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from mdc.timefmt import format_rfc3339_ns
from models.card import CLASSES, INPUT_NAME, OUTPUTS, onnx_digest
from models.dataset import Dataset
from models.errors import TrainingError
from models.runtime import LoadedModel, open_session

TEST_FRACTION = 0.25
MIN_ROWS = 20
TARGET_OPSET = {"": 17, "ai.onnx.ml": 3}
MAX_PARITY_DIFF = 1e-4
"""Above this the ONNX graph does not compute what scikit-learn fitted: refuse to ship it."""


def _logreg(seed: int) -> Pipeline:
    """Scaled logistic regression: the features span bps, counts and 1e-4 volatilities."""
    return Pipeline(
        [
            ("scale", StandardScaler()),
            ("classify", LogisticRegression(max_iter=1000, random_state=seed)),
        ]
    )


def _gbc(seed: int) -> GradientBoostingClassifier:
    """Small on purpose: 50 trees of depth 3 keep the ONNX file well under 300 KB."""
    return GradientBoostingClassifier(n_estimators=50, max_depth=3, random_state=seed)


KINDS: dict[str, Callable[[int], ClassifierMixin]] = {"logreg": _logreg, "gbc": _gbc}


@dataclass(frozen=True)
class TrainedModel:
    card: dict[str, Any]
    onnx_bytes: bytes
    estimator: ClassifierMixin


@dataclass(frozen=True)
class ModelIdentity:
    """Who the model is and where its data came from, as written on the card."""

    name: str
    version: str
    kind: str
    seed: int
    source: str
    sample_every_ns: int
    dataset: dict[str, str] | None = None
    """The dataset version trained on (`mdc train --dataset`): its NAME@K ref and git commit."""


def split_by_time(dataset: Dataset, test_fraction: float = TEST_FRACTION) -> np.ndarray:
    """Boolean mask of test rows: every row sampled at or after the cut time, never shuffled.

    The cut is a sample time, so all instruments' rows of one instant fall on the same side.
    """
    n = len(dataset.y)
    if n == 0:
        raise TrainingError(
            "no labelled rows: a row needs the mid at two consecutive samples, so the data must "
            "hold order book events (snapshots/deltas) spanning more than one --sample-every"
        )
    if n < MIN_ROWS:
        raise TrainingError(
            f"only {n} labelled rows (need {MIN_ROWS}); train on more data or a shorter "
            "--sample-every"
        )
    cut = dataset.t_ns[min(n - 1, int(n * (1 - test_fraction)))]
    test = dataset.t_ns >= cut
    if test.all():
        raise TrainingError("all rows share one sample time; train on a longer time range")
    return test


def train_model(dataset: Dataset, identity: ModelIdentity, trained_at_ns: int) -> TrainedModel:
    """Fit, export, verify parity and build the card; raises TrainingError on unusable data."""
    if identity.kind not in KINDS:
        raise TrainingError(f"unknown model kind {identity.kind!r}; choose from {sorted(KINDS)}")
    test = split_by_time(dataset)
    y_train = dataset.y[~test]
    if len(np.unique(y_train)) < 2:
        raise TrainingError(
            f"the training rows are all class {int(y_train[0])} (the mid only moved one way); "
            "train on a longer or livelier time range, or a longer --sample-every"
        )
    estimator = KINDS[identity.kind](identity.seed)
    estimator.fit(dataset.x[~test], y_train)
    proto = export_onnx(estimator, len(dataset.features), f"{identity.name}-{identity.version}")
    onnx_bytes = proto.SerializeToString()
    card = _card(dataset, identity, onnx_bytes, trained_at_ns)
    card["opset"] = {op.domain: op.version for op in proto.opset_import}
    card["metrics"] = _evaluate(estimator, card, onnx_bytes, dataset, test)
    return TrainedModel(card, onnx_bytes, estimator)


def _evaluate(
    estimator: ClassifierMixin,
    card: dict[str, Any],
    onnx_bytes: bytes,
    dataset: Dataset,
    test: np.ndarray,
) -> dict[str, Any]:
    """Test metrics of the exported model, run the way serving runs it, plus its ONNX parity."""
    where = Path(f"<{card['name']}-{card['version']}>")
    served = LoadedModel(where, card, open_session(onnx_bytes, where))
    x_test, y_test = dataset.x[test], dataset.y[test]
    predictions = served.predict_matrix(x_test)
    labels = np.array([p.label for p in predictions], dtype=np.int64)
    probability_up = np.array([p.probability_up for p in predictions])
    parity = float(np.max(np.abs(probability_up - estimator.predict_proba(x_test)[:, 1])))
    if parity > MAX_PARITY_DIFF:
        raise TrainingError(f"ONNX export differs from scikit-learn by {parity:.3g}; not shipped")
    metrics = _metrics(dataset.y[~test], y_test, labels, probability_up)
    return metrics | {"onnx_max_abs_prob_diff": parity}


def export_onnx(estimator: ClassifierMixin, n_features: int, graph_name: str) -> ModelProto:
    """The spec's conversion: float32 input 'input' [None, n], no zipmap, pinned opsets.

    skl2onnx names the graph with a random uuid and lists opsets in set order (which varies with
    the hash seed); naming the graph and sorting the opsets makes the same fit give the same bytes.
    """
    final = estimator.steps[-1][1] if isinstance(estimator, Pipeline) else estimator
    proto = convert_sklearn(
        estimator,
        initial_types=[(INPUT_NAME, FloatTensorType([None, n_features]))],
        options={id(final): {"zipmap": False}},
        target_opset=TARGET_OPSET,
        name=graph_name,
    )
    opsets = sorted((op.domain, op.version) for op in proto.opset_import)
    del proto.opset_import[:]
    proto.opset_import.extend(make_opsetid(domain, version) for domain, version in opsets)
    return proto


def _metrics(
    y_train: np.ndarray, y_test: np.ndarray, labels: np.ndarray, p_up: np.ndarray
) -> dict[str, Any]:
    majority = int(np.mean(y_train) >= 0.5)
    both = len(np.unique(y_test)) == 2
    return {
        "n_train": len(y_train),
        "n_test": len(y_test),
        "up_fraction_train": float(np.mean(y_train)),
        "up_fraction_test": float(np.mean(y_test)),
        "accuracy": float(accuracy_score(y_test, labels)),
        "baseline_accuracy": float(np.mean(y_test == majority)),
        "log_loss": float(log_loss(y_test, p_up.astype(np.float64), labels=CLASSES)),
        "roc_auc": float(roc_auc_score(y_test, p_up)) if both else None,
    }


def _dataset_entry(identity: ModelIdentity) -> dict[str, Any]:
    return {} if identity.dataset is None else {"dataset": dict(identity.dataset)}


def _card(
    dataset: Dataset, identity: ModelIdentity, onnx_bytes: bytes, trained_at_ns: int
) -> dict[str, Any]:
    return {
        "name": identity.name,
        "version": identity.version,
        "predicts": "1 if the mid at the next sample is above the mid now, else 0",
        "features": list(dataset.features),
        "null_fill": dict(dataset.null_fill),
        "input": INPUT_NAME,
        "outputs": dict(OUTPUTS),
        "classes": list(CLASSES),
        "data": dataset.data.as_card() | {"source": identity.source} | _dataset_entry(identity),
        "training": {
            "kind": identity.kind,
            "seed": identity.seed,
            "sample_every_ns": identity.sample_every_ns,
            "test_fraction": TEST_FRACTION,
            "split": "by time: the last rows are the test set",
        },
        "metrics": {},
        "trained_at": format_rfc3339_ns(trained_at_ns),
        "opset": {},
        "onnx_sha256": onnx_digest(onnx_bytes),
    }
