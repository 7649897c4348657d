"""The model card: what a model needs from its caller and what it was trained on.

A model directory holds `model.onnx` and `card.json`. The card names the inputs in order with
their null fills, the ONNX tensor names, the class meaning, the data fingerprint and the metrics.
It also records the sha256 of `model.onnx`, so a card and a model from different runs (a torn
rewrite) are caught at load time instead of silently mispredicting.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mdc.store.projection import atomic_write
from models.errors import ModelError

MODEL_FILE = "model.onnx"
CARD_FILE = "card.json"
INPUT_NAME = "input"
OUTPUTS = {"label": "label", "probabilities": "probabilities"}
CLASSES = [0, 1]
"""Class 0: mid down or flat at the next sample; class 1: mid up."""
CARD_KEYS = (
    "name",
    "version",
    "features",
    "null_fill",
    "input",
    "outputs",
    "classes",
    "data",
    "metrics",
    "trained_at",
    "opset",
    "onnx_sha256",
)


def onnx_digest(onnx_bytes: bytes) -> str:
    return hashlib.sha256(onnx_bytes).hexdigest()


def write_model_dir(directory: str | Path, onnx_bytes: bytes, card: Mapping[str, Any]) -> Path:
    """Write the model, then its card, each atomically and durably (temp + fsync + rename)."""
    directory = Path(directory)
    validate_card(card, directory)
    atomic_write(str(directory / MODEL_FILE), onnx_bytes)
    text = json.dumps(card, indent=2, sort_keys=False) + "\n"
    atomic_write(str(directory / CARD_FILE), text.encode())
    return directory


def read_card(directory: Path) -> dict[str, Any]:
    path = directory / CARD_FILE
    try:
        card = json.loads(path.read_text())
    except FileNotFoundError as exc:
        raise ModelError(f"{directory}: no {CARD_FILE}; a model directory needs one") from exc
    except (OSError, ValueError) as exc:
        raise ModelError(f"{path}: unreadable card ({exc})") from exc
    if not isinstance(card, dict):
        raise ModelError(f"{path}: the card must be a JSON object")
    validate_card(card, directory)
    return card


def validate_card(card: Mapping[str, Any], directory: Path) -> None:
    """Every key present; features unique strings; a finite null fill for each of them."""
    missing = [key for key in CARD_KEYS if key not in card]
    if missing:
        raise ModelError(f"{directory}: card is missing {missing}")
    not_text = [k for k in ("name", "version", "input") if not isinstance(card[k], str)]
    if not_text:
        raise ModelError(f"{directory}: card {not_text} must be strings")
    features = card["features"]
    if (
        not isinstance(features, list)
        or not features
        or not all(isinstance(name, str) for name in features)
    ):
        raise ModelError(f"{directory}: card 'features' must be a non-empty list of names")
    if len(set(features)) != len(features):
        raise ModelError(f"{directory}: card 'features' lists a name twice")
    fill = card["null_fill"]
    if not isinstance(fill, dict):
        raise ModelError(f"{directory}: card 'null_fill' must map each feature to a number")
    bad = [n for n in features if not _finite_number(fill.get(n))]
    if bad:
        raise ModelError(f"{directory}: card 'null_fill' has no finite number for {bad}")
    if card["classes"] != CLASSES:
        raise ModelError(f"{directory}: card 'classes' must be {CLASSES}, got {card['classes']}")
    outputs = card["outputs"]
    if not isinstance(outputs, dict) or set(outputs) != set(OUTPUTS):
        raise ModelError(f"{directory}: card 'outputs' must name {sorted(OUTPUTS)}")


def _finite_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
