"""Variants (venues, toxics, fault kinds) come from entry points, never from import side effects."""

from __future__ import annotations

import importlib.metadata
from typing import Any

from mdc.errors import DuplicateVariant


def entry_points_of(group: str) -> list[importlib.metadata.EntryPoint]:
    """Every entry point of the group, duplicates included (a listing shows each), read afresh
    from the installed metadata on every call."""
    return list(importlib.metadata.entry_points(group=group))


def _entries(group: str) -> dict[str, importlib.metadata.EntryPoint]:
    """Entry points by name; two distributions naming the same variant is an error."""
    entries = entry_points_of(group)
    names = [e.name for e in entries]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise DuplicateVariant(f"entry-point group {group!r} names {duplicates} more than once")
    return {e.name: e for e in entries}


def variant_names(group: str) -> list[str]:
    """Names only: nothing is imported, so one broken plugin cannot break `--help`."""
    return sorted(_entries(group))


def load_variant(group: str, name: str) -> Any | None:
    entry = _entries(group).get(name)
    return None if entry is None else entry.load()
