"""Where alerting keeps its files, under the data directory (one place, shared by the alert
follower, the CLI and the admin API)."""

import os

ALERTS_DIR = "alerts"
STATE_FILE = os.path.join(ALERTS_DIR, "state.msgpack")
"""Position, evaluator and dispatcher of the live follower, replaced atomically."""
ACTIVE_FILE = os.path.join(ALERTS_DIR, "active.json")
"""Pending and firing alerts and active silences, for `mdc alerts list` (about every second)."""
SILENCES_FILE = os.path.join(ALERTS_DIR, "silences.jsonl")
UNDELIVERED_FILE = os.path.join(ALERTS_DIR, "undelivered.jsonl")
HISTORY_FILE = os.path.join(ALERTS_DIR, "transitions.jsonl")
"""Every transition the live evaluator made, one `mdc alerts replay` JSON line each (appended
just before the state is saved: after a crash the last second's can appear twice)."""
