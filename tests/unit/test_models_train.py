"""models.train: time-ordered split, refusals on unusable data, the ONNX signature of spec §9."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest

from models.dataset import DataFingerprint, Dataset
from models.errors import TrainingError
from models.train import ModelIdentity, split_by_time, train_model

FEATURES = ("a", "b", "c")


def _dataset(y: np.ndarray, t_ns: np.ndarray | None = None) -> Dataset:
    n = len(y)
    x = np.random.default_rng(1).normal(size=(n, len(FEATURES))).astype(np.float32)
    times = np.arange(n, dtype=np.int64) if t_ns is None else t_ns
    fill = dict.fromkeys(FEATURES, 0.0)
    return Dataset(x, y.astype(np.int64), times, FEATURES, fill, DataFingerprint(0, n, n, "0" * 64))


def _identity(kind: str = "logreg") -> ModelIdentity:
    return ModelIdentity("direction", "v1", kind, 1, "unit test", 10**9)


def test_split_keeps_time_order_and_whole_instants():
    # Two instruments sampled at each of 40 instants: rows come in pairs with equal times.
    times = np.repeat(np.arange(40, dtype=np.int64) * 10**9, 2)
    test = split_by_time(_dataset(np.zeros(80), times))
    assert test.sum() == 20 and not test[:60].any() and test[60:].all()
    odd = np.repeat(np.arange(41, dtype=np.int64), 2)[:81]
    test = split_by_time(_dataset(np.zeros(81), odd))
    assert times_of(odd, test).isdisjoint(times_of(odd, ~test))
    assert odd[~test].max() < odd[test].min()


def times_of(times: np.ndarray, mask: np.ndarray) -> set[int]:
    return set(times[mask].tolist())


def test_refuses_too_few_rows_one_class_and_one_instant():
    with pytest.raises(TrainingError, match="only 5 labelled rows"):
        train_model(_dataset(np.array([0, 1, 0, 1, 0])), _identity(), 0)
    with pytest.raises(TrainingError, match="all class 0"):
        train_model(_dataset(np.zeros(100)), _identity(), 0)
    with pytest.raises(TrainingError, match="one sample time"):
        split_by_time(_dataset(np.zeros(30), np.zeros(30, dtype=np.int64)))
    with pytest.raises(TrainingError, match="unknown model kind 'svm'"):
        train_model(_dataset(np.arange(100) % 2), _identity("svm"), 0)


@pytest.mark.parametrize("kind", ["logreg", "gbc"])
def test_onnx_signature_follows_the_spec(kind):
    y = (np.arange(200) % 3 == 0).astype(np.int64)
    trained = train_model(_dataset(y), _identity(kind), 0)
    graph = onnx.load_model_from_string(trained.onnx_bytes)
    assert graph.ir_version <= 8
    session = ort.InferenceSession(trained.onnx_bytes, providers=["CPUExecutionProvider"])
    (inp,) = session.get_inputs()
    assert (inp.name, inp.type, inp.shape[1]) == ("input", "tensor(float)", 3)
    outputs = {o.name: o.type for o in session.get_outputs()}
    assert outputs == {"label": "tensor(int64)", "probabilities": "tensor(float)"}
    label, proba = session.run(None, {"input": np.zeros((4, 3), dtype=np.float32)})
    assert label.shape == (4,) and proba.shape == (4, 2)
    assert np.allclose(proba.sum(axis=1), 1, atol=1e-6)
    with pytest.raises(Exception, match="data type"):
        session.run(None, {"input": np.zeros((1, 3), dtype=np.float64)})
    assert len(trained.onnx_bytes) < 300_000
    assert train_model(_dataset(y), _identity(kind), 0).onnx_bytes == trained.onnx_bytes
