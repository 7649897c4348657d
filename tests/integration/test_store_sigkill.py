"""SIGKILL a real writer process at random (seeded) instants, many times: after every recovery each
acknowledged event is present exactly once and no partial record is readable. The loop lives in
chaos/writer_kills.py, whose `python -m chaos.writer_kills --kills 1000` is the long soak."""

from __future__ import annotations

import pytest

from chaos.writer_kills import SYMBOLS, run_kills

RUNS = 30
BUDGET_S = 45.0


@pytest.mark.slow
def test_sigkill_at_random_instants_loses_no_ack_and_doubles_nothing(tmp_path):
    # check_every=1: the whole store is read again after every kill (a failed check raises).
    result = run_kills(
        str(tmp_path / "data"), kills=RUNS, seed=20261125, budget_s=BUDGET_S, check_every=1
    )
    assert result.kills >= RUNS, f"only {result.kills} kills fitted in {BUDGET_S}s"
    assert result.acked > RUNS * len(SYMBOLS)
    assert result.stored >= result.acked
