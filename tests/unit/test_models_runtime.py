"""models.runtime: card/ONNX round trip, parity with scikit-learn, null fills, every error path."""

from __future__ import annotations

import hashlib
import json
import shutil

import numpy as np
import pytest

from models.card import CARD_FILE, MODEL_FILE, write_model_dir
from models.dataset import DataFingerprint, Dataset
from models.errors import ModelError, ModelInputError
from models.runtime import Prediction, discover_models, load_model
from models.train import ModelIdentity, train_model

FEATURES = ("spread_bps", "l1_imbalance", "ofi_5m", "rv_5m")
FILL = {"spread_bps": 0.5, "l1_imbalance": 0.25, "ofi_5m": -1.5, "rv_5m": 1e-4}


def _dataset(n: int = 400, seed: int = 3) -> Dataset:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, len(FEATURES))).astype(np.float32)
    y = (x[:, 1] + 0.5 * rng.normal(size=n) > 0).astype(np.int64)
    data = DataFingerprint(0, n, n, "0" * 64)
    return Dataset(x, y, np.arange(n, dtype=np.int64), FEATURES, dict(FILL), data)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One logreg and one gbc model written to disk: (dataset, {kind: (TrainedModel, dir)})."""
    dataset = _dataset()
    out = {}
    for version, kind in (("v1", "logreg"), ("v2", "gbc")):
        identity = ModelIdentity("direction", version, kind, 7, "unit test", 10**9)
        model = train_model(dataset, identity, trained_at_ns=1_700_000_000 * 10**9)
        root = tmp_path_factory.mktemp("models")
        out[kind] = (
            model,
            write_model_dir(root / f"direction-{version}", model.onnx_bytes, model.card),
        )
    return dataset, out


@pytest.fixture
def model_dir(trained, tmp_path):
    """A private copy of the logreg model directory, free to break."""
    _, models = trained
    return shutil.copytree(models["logreg"][1], tmp_path / "direction-v1")


def _edit_card(directory, **changes) -> None:
    path = directory / CARD_FILE
    card = json.loads(path.read_text())
    card.update(changes)
    path.write_text(json.dumps(card))


@pytest.mark.parametrize("kind", ["logreg", "gbc"])
def test_card_and_onnx_round_trip(trained, kind):
    _, models = trained
    model, directory = models[kind]
    loaded = load_model(directory)
    assert loaded.card == json.loads((directory / CARD_FILE).read_text()) == model.card
    assert (loaded.name, loaded.features) == ("direction", FEATURES)
    assert loaded.version == model.card["version"]
    assert (directory / MODEL_FILE).read_bytes() == model.onnx_bytes
    assert loaded.card["trained_at"] == "2023-11-14T22:13:20.000000000Z"
    assert loaded.card["training"]["kind"] == kind
    assert set(loaded.card["opset"]) == {"", "ai.onnx.ml"}
    assert loaded.card["opset"][""] <= 17 and loaded.card["opset"]["ai.onnx.ml"] <= 3
    assert not list(directory.glob("*.tmp"))


@pytest.mark.parametrize("kind", ["logreg", "gbc"])
def test_runtime_matches_sklearn(trained, kind):
    dataset, models = trained
    model, directory = models[kind]
    loaded = load_model(directory)
    predictions = loaded.predict_matrix(dataset.x)
    expected = model.estimator.predict_proba(dataset.x)[:, 1]
    got = np.array([p.probability_up for p in predictions])
    assert np.max(np.abs(got - expected)) < 1e-5
    assert [p.label for p in predictions] == model.estimator.predict(dataset.x).tolist()
    assert 0 <= model.card["metrics"]["onnx_max_abs_prob_diff"] < 1e-5
    assert all(isinstance(p, Prediction) and isinstance(p.label, int) for p in predictions)


def test_metrics_are_on_the_later_rows(trained):
    dataset, models = trained
    metrics = models["logreg"][0].card["metrics"]
    assert (metrics["n_train"], metrics["n_test"]) == (300, 100)
    assert metrics["up_fraction_test"] == pytest.approx(dataset.y[300:].mean())
    assert metrics["accuracy"] > metrics["baseline_accuracy"]
    assert 0.5 < metrics["roc_auc"] <= 1 and metrics["log_loss"] > 0


def test_vectorize_orders_features_and_fills_nulls(model_dir):
    loaded = load_model(model_dir)
    row = loaded.vectorize(
        {"rv_5m": None, "ofi_5m": 2, "l1_imbalance": None, "spread_bps": 1.25, "extra": 9.0}
    )
    assert row.dtype == np.float32 and row.shape == (4,)
    assert row.tolist() == [1.25, 0.25, 2.0, np.float32(1e-4)]
    assert loaded.predict_matrix(row)[0] == loaded.predict_matrix(row.reshape(1, -1))[0]


def test_vectorize_rejects_missing_and_non_numeric(model_dir):
    loaded = load_model(model_dir)
    with pytest.raises(ModelInputError, match=r"missing features \['ofi_5m'\]"):
        loaded.vectorize({"spread_bps": 1.0, "l1_imbalance": 0.5, "rv_5m": 0.0})
    with pytest.raises(ModelInputError, match="'rv_5m' must be a number or null"):
        loaded.vectorize({"spread_bps": 1.0, "l1_imbalance": 0.5, "ofi_5m": 0, "rv_5m": "x"})


def test_predict_matrix_rejects_wrong_width_and_non_finite(model_dir):
    loaded = load_model(model_dir)
    with pytest.raises(ModelInputError, match="expected rows of 4 features"):
        loaded.predict_matrix(np.zeros((2, 3), dtype=np.float32))
    bad = np.zeros((3, 4))
    bad[1, 2] = np.inf
    bad[2, 0] = np.nan
    with pytest.raises(
        ModelInputError, match=r"non-finite or beyond float32 values in \['spread_bps', 'ofi_5m'\]"
    ):
        loaded.predict_matrix(bad)
    assert len(loaded.predict_matrix(np.zeros((5, 4)))) == 5  # float64 is cast at the boundary
    with pytest.raises(ModelInputError, match="rows must be numbers"):
        loaded.predict_matrix([[1.0, "x", 0.0, 0.0]])
    with pytest.raises(ModelInputError, match=r"non-finite or beyond float32 values in \['l1_imb"):
        loaded.predict_matrix([[1.0, None, 0.0, 0.0]])  # a JSON null in a raw feature list
    with pytest.raises(ModelInputError, match=r"beyond float32 values in \['l1_imbalance'\]"):
        loaded.check_rows([[1.0, 1e39, 0.0, 0.0]])  # finite in float64, not in float32


def test_checked_rows_are_float32_and_predict_as_they_are(model_dir):
    loaded = load_model(model_dir)
    assert 0 < loaded.inference_s < 0.01  # measured at load: a tiny model takes microseconds
    matrix = loaded.check_rows([1.0, 2.0, 3.0, 4.0])
    assert matrix.dtype == np.float32 and matrix.shape == (1, 4)
    assert loaded.predict_checked(matrix) == loaded.predict_matrix(np.array([[1, 2, 3, 4.0]]))


def test_load_errors_name_the_problem(model_dir, tmp_path):
    with pytest.raises(ModelError, match="does not exist"):
        load_model(tmp_path / "nowhere")
    (model_dir / MODEL_FILE).rename(tmp_path / "saved.onnx")
    with pytest.raises(ModelError, match=r"no model\.onnx"):
        load_model(model_dir)
    (tmp_path / "saved.onnx").rename(model_dir / MODEL_FILE)
    _edit_card(model_dir, input="X")
    with pytest.raises(ModelError, match=r"ONNX inputs \['input'\], card says 'X'"):
        load_model(model_dir)
    _edit_card(model_dir, input="input", features=list(FEATURES[:3]))
    with pytest.raises(ModelError, match="ONNX input takes 4 features, card lists 3"):
        load_model(model_dir)
    (model_dir / CARD_FILE).write_text("{not json")
    with pytest.raises(ModelError, match="unreadable card"):
        load_model(model_dir)
    (model_dir / CARD_FILE).unlink()
    with pytest.raises(ModelError, match=r"no card\.json"):
        load_model(model_dir)


def test_card_content_errors(model_dir):
    card = json.loads((model_dir / CARD_FILE).read_text())
    del card["null_fill"], card["opset"]
    (model_dir / CARD_FILE).write_text(json.dumps(card))
    with pytest.raises(ModelError, match=r"card is missing \['null_fill', 'opset'\]"):
        load_model(model_dir)
    card |= {"null_fill": dict(FILL, rv_5m=None), "opset": {"": 17}}
    (model_dir / CARD_FILE).write_text(json.dumps(card))
    with pytest.raises(ModelError, match=r"no finite number for \['rv_5m'\]"):
        load_model(model_dir)
    _edit_card(model_dir, null_fill=FILL, features=[*FEATURES, "rv_5m"])
    with pytest.raises(ModelError, match="lists a name twice"):
        load_model(model_dir)
    _edit_card(model_dir, features=list(FEATURES), classes=[1, 0])
    with pytest.raises(ModelError, match="'classes' must be"):
        load_model(model_dir)
    _edit_card(model_dir, classes=[0, 1], version=2)
    with pytest.raises(ModelError, match=r"card \['version'\] must be strings"):
        load_model(model_dir)


def test_onnx_file_must_match_its_card(model_dir, trained):
    _, models = trained
    (model_dir / MODEL_FILE).write_bytes(models["gbc"][0].onnx_bytes)
    with pytest.raises(ModelError, match="does not match the card's onnx_sha256"):
        load_model(model_dir)
    junk = b"not an onnx graph"
    (model_dir / MODEL_FILE).write_bytes(junk)
    _edit_card(model_dir, onnx_sha256=hashlib.sha256(junk).hexdigest())
    with pytest.raises(ModelError, match="onnxruntime cannot load the model"):
        load_model(model_dir)


def test_discover_sorts_by_version_number(trained, tmp_path):
    _, models = trained
    for version, kind in (("v10", "logreg"), ("v2", "gbc"), ("v1", "logreg")):
        target = shutil.copytree(models[kind][1], tmp_path / f"direction-{version}")
        _edit_card(target, version=version)
    (tmp_path / "notes").mkdir()
    found = discover_models(tmp_path)
    assert [(m.name, m.version) for m in found] == [
        ("direction", "v1"),
        ("direction", "v2"),
        ("direction", "v10"),
    ]
    with pytest.raises(ModelError, match="no such models directory"):
        discover_models(tmp_path / "missing")
    shutil.copytree(tmp_path / "direction-v2", tmp_path / "copy-of-v2")
    with pytest.raises(ModelError, match="are both direction v2"):
        discover_models(tmp_path)
