"""Faults at the writer's file-system seam (mdc.store.fs.FaultyFS). The writer only has the seam
when started with fault injection (`Supervisor(..., writer_faults=True)`); without it these faults
raise FaultSetupError instead of silently doing nothing. The hook runs before every fsync, after
the commit's records were written, so it acts exactly between "written" and "durable"."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from chaos.faults.base import FaultSetupError
from chaos.faults.rayops import run_inside
from mdc.store.fs import FaultyFS

NO_SEAM = "the writer has no fault seam: start it with writer_faults=True (Supervisor/collect)"


def seam(writer: Any) -> FaultyFS:
    """Runs inside the writer actor: its FaultyFS, or a setup error."""
    fs = getattr(writer, "fs", None)
    if not isinstance(fs, FaultyFS):
        raise FaultSetupError(NO_SEAM)
    return fs


def _set_fsync_hook(writer: Any, hook: Callable[[], None] | None) -> None:
    seam(writer).on_fsync = hook


def set_fsync_hook(handle: Any, hook: Callable[[], None] | None) -> None:
    """Install (or, with None, remove) the writer's before-fsync hook; picklable hooks only."""
    run_inside(handle, _set_fsync_hook, hook)
