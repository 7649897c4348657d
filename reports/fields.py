"""Tolerant reads of report JSON: a field that an older report lacks, or a failed run never filled,
reads as empty or None instead of raising, so any report still renders."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def records(value: object) -> list[Mapping[str, Any]]:
    """The mappings in a JSON list; anything else is no records."""
    if not isinstance(value, list | tuple):
        return []
    return [item for item in value if isinstance(item, Mapping)]


def mapping(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def num(value: object) -> float | None:
    """A JSON number as float; None for null, text, booleans or a missing field."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)
