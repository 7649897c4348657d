"""Serving side of a model directory: load and check it once, then predict with one ONNX session.

Everything that can disagree is checked at load time (card keys, card vs ONNX file digest, card
feature count vs the ONNX input shape, tensor names), so a model that loads predicts. Inputs are
cast to float32 at this boundary, as the ONNX graph requires.
"""

from __future__ import annotations

import itertools
import numbers
import re
import statistics
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort

from models.card import CARD_FILE, MODEL_FILE, onnx_digest, read_card
from models.errors import ModelError, ModelInputError

SHIPPED = Path(__file__).resolve().parent / "shipped"
UP = 1


@dataclass(frozen=True)
class Prediction:
    label: int
    probability_up: float


def open_session(onnx_bytes: bytes, where: Path) -> ort.InferenceSession:
    """One CPU session, one thread: calls are tiny (spec §9: per-call overhead dominates), so
    replicas scale by process, and a model never competes with its neighbours for cores."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    try:
        return ort.InferenceSession(
            onnx_bytes, sess_options=options, providers=["CPUExecutionProvider"]
        )
    except Exception as exc:  # onnxruntime raises its own untyped Fail/InvalidGraph errors
        raise ModelError(f"{where}: onnxruntime cannot load the model ({exc})") from exc


class LoadedModel:
    """One checked model directory with its own reusable ONNX session (thread-safe to run)."""

    def __init__(self, directory: Path, card: dict[str, Any], session: ort.InferenceSession):
        self.directory = directory
        self.card = card
        self.name: str = card["name"]
        self.version: str = card["version"]
        self.features: tuple[str, ...] = tuple(card["features"])
        self._fill = np.array([card["null_fill"][n] for n in self.features], dtype=np.float32)
        self._session = session
        self._input = card["input"]
        self._outputs = [card["outputs"]["label"], card["outputs"]["probabilities"]]
        self._up_column = card["classes"].index(UP)
        self._check_signature()
        self.inference_s = self._time_one_row()

    def vectorize(self, values: Mapping[str, float | int | None]) -> np.ndarray:
        """One checked float32 row in the model's feature order; a null takes the feature's fill."""
        missing = [name for name in self.features if name not in values]
        if missing:
            raise ModelInputError(f"{self.name} {self.version}: missing features {missing}")
        row = np.array([self._number(n, values[n]) for n in self.features], dtype=np.float32)
        row = np.where(np.isnan(row), self._fill, row)
        return self._finite(row.reshape(1, -1))[0]

    def check_rows(self, rows: object) -> np.ndarray:
        """`rows` as the float32 [n, len(features)] matrix the graph takes (a single 1-D row is
        n = 1), checked once: numbers, shape, finite in float32 (beyond its range is not)."""
        try:
            with np.errstate(over="ignore"):
                matrix = np.atleast_2d(np.asarray(rows, dtype=np.float32))
        except (TypeError, ValueError) as exc:
            raise ModelInputError(f"{self.name} {self.version}: rows must be numbers") from exc
        if matrix.ndim != 2 or matrix.shape[1] != len(self.features):
            raise ModelInputError(
                f"{self.name} {self.version}: expected rows of {len(self.features)} features "
                f"{list(self.features)}, got shape {list(matrix.shape)}"
            )
        return self._finite(matrix)

    def predict_matrix(self, x: object) -> list[Prediction]:
        """Predict each row of `x` (any rows `check_rows` takes)."""
        return self.predict_checked(self.check_rows(x))

    def predict_checked(self, matrix: np.ndarray) -> list[Prediction]:
        """Predict a matrix from `check_rows` or `vectorize` as it is: no second check or cast."""
        labels, probabilities = self._session.run(self._outputs, {self._input: matrix})
        up = probabilities[:, self._up_column]
        return [Prediction(int(lab), float(p)) for lab, p in zip(labels, up, strict=True)]

    def _time_one_row(self, runs: int = 16) -> float:
        """Median seconds of one-row inference (on the fill row), measured once at load: the
        API runs a model this fast on its event loop, where a thread hand-off costs more."""
        row = self._fill.reshape(1, -1)
        times = []
        for _ in range(runs):
            started = time.perf_counter()
            self.predict_checked(row)
            times.append(time.perf_counter() - started)
        return statistics.median(times)

    def _finite(self, matrix: np.ndarray) -> np.ndarray:
        bad = ~np.isfinite(matrix)
        if bad.any():
            names = [self.features[i] for i in sorted(set(np.nonzero(bad)[1].tolist()))]
            raise ModelInputError(
                f"{self.name} {self.version}: non-finite or beyond float32 values in {names}"
            )
        return matrix

    def _number(self, name: str, value: object) -> float:
        if value is None:
            return np.nan
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise ModelInputError(
                f"{self.name} {self.version}: feature {name!r} must be a number or null, "
                f"got {value!r}"
            )
        return float(value)

    def _check_signature(self) -> None:
        """The card and the ONNX graph must agree on tensor names and the number of features."""
        inputs = self._session.get_inputs()
        where = self.directory
        if len(inputs) != 1 or inputs[0].name != self._input:
            raise ModelError(
                f"{where}: ONNX inputs {[i.name for i in inputs]}, card says {self._input!r}"
            )
        width = inputs[0].shape[1] if len(inputs[0].shape) == 2 else None
        if width != len(self.features):
            raise ModelError(
                f"{where}: ONNX input takes {width} features, card lists {len(self.features)}"
            )
        names = {o.name for o in self._session.get_outputs()}
        if not set(self._outputs) <= names:
            raise ModelError(f"{where}: ONNX outputs {sorted(names)}, card names {self._outputs}")


def load_model(directory: str | Path) -> LoadedModel:
    """Load `directory` (model.onnx + card.json); any inconsistency raises ModelError."""
    directory = Path(directory)
    if not directory.is_dir():
        raise ModelError(f"{directory}: not a model directory (it does not exist)")
    card = read_card(directory)
    try:
        onnx_bytes = (directory / MODEL_FILE).read_bytes()
    except FileNotFoundError as exc:
        raise ModelError(f"{directory}: no {MODEL_FILE} beside its card") from exc
    if onnx_digest(onnx_bytes) != card["onnx_sha256"]:
        raise ModelError(f"{directory}: {MODEL_FILE} does not match the card's onnx_sha256")
    return LoadedModel(directory, card, open_session(onnx_bytes, directory))


def discover_models(root: str | Path = SHIPPED) -> list[LoadedModel]:
    """Every model directory directly under `root`, sorted by (name, version number)."""
    root = Path(root)
    if not root.is_dir():
        raise ModelError(f"{root}: no such models directory")
    candidates = [
        d for d in root.iterdir() if (d / CARD_FILE).exists() or (d / MODEL_FILE).exists()
    ]
    models = sorted(
        (load_model(d) for d in candidates), key=lambda m: (m.name, _version_key(m.version))
    )
    for first, second in itertools.pairwise(models):
        if (first.name, first.version) == (second.name, second.version):
            raise ModelError(
                f"{first.directory} and {second.directory} are both {first.name} {first.version}"
            )
    return models


def _version_key(version: str) -> tuple[int, str]:
    """'v10' sorts after 'v2'; versions that are not vN sort after them, by text."""
    match = re.fullmatch(r"v(\d+)", version)
    return (int(match.group(1)), "") if match else (1 << 62, version)
