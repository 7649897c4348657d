"""Notifications that could not be delivered, kept (`DATA_DIR/alerts/undelivered.jsonl`, one
fsync'd line each) until `mdc alerts undelivered --replay` sends them again. A line holds the
notification and why it failed, never a secret: it is sent again through the channel of the
same name in the configuration of that time."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass

import orjson

from mdc.alerts.files import UNDELIVERED_FILE
from mdc.store.projection import append_line, atomic_write


@dataclass(frozen=True)
class UndeliveredRecord:
    at_ns: int
    reason: str
    attempts: int
    notification: dict  # Notification.to_dict()

    def to_line(self) -> bytes:
        plain = {
            "at": self.at_ns,
            "reason": self.reason,
            "attempts": self.attempts,
            "notification": self.notification,
        }
        return orjson.dumps(plain)


def append_undelivered(data_dir: str, record: UndeliveredRecord) -> None:
    append_line(os.path.join(data_dir, UNDELIVERED_FILE), record.to_line(), 0o600)


def replace_undelivered(data_dir: str, records: list[UndeliveredRecord]) -> None:
    """The file holds exactly `records` (after a replay), replaced atomically."""
    lines = b"".join(record.to_line() + b"\n" for record in records)
    atomic_write(os.path.join(data_dir, UNDELIVERED_FILE), lines)


def read_undelivered(data_dir: str) -> Iterator[UndeliveredRecord]:
    """Every kept record; a torn last line is skipped."""
    try:
        with open(os.path.join(data_dir, UNDELIVERED_FILE), "rb") as f:
            lines = f.read().splitlines()
    except FileNotFoundError:
        return
    for line in lines:
        try:
            data = orjson.loads(line)
            yield UndeliveredRecord(
                data["at"], data["reason"], data["attempts"], data["notification"]
            )
        except (orjson.JSONDecodeError, KeyError, TypeError):
            continue
