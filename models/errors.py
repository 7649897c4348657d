"""Typed errors of the models package, split by who is at fault."""

from __future__ import annotations

from mdc.errors import CollectorError


class ModelError(CollectorError):
    """A model directory that cannot be served: missing file, bad card, card/ONNX disagreement."""


class ModelInputError(CollectorError):
    """A caller's input the model cannot take (missing feature, wrong length, non-finite value)."""


class TrainingError(CollectorError):
    """Training cannot proceed on this data (no events, no rows, one class); says what to do."""
