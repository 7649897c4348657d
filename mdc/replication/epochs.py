"""Roles and epochs: who writes, and the fencing token that refuses a demoted primary.

Every store has a role (primary or follower) and an epoch, kept in `DATA_DIR/replication.json`
(replaced atomically). A store without that file is a primary at epoch 1. Promotion starts a
new epoch at the log's ends at that moment and appends it to the history (like PostgreSQL's
timeline history): whoever follows the new primary learns where each epoch began.

Fencing: records and followers carry epochs. A follower refuses a primary older than the epoch
it knows (a demoted primary that came back), and a primary refuses a follower that knows a
newer epoch than its own. A follower whose log goes past the point where its epoch ended in the
new primary's history holds records the new primary never had (written by the old primary
after the failover, or never replicated before it died): `divergence` says where each stream
must be cut, and those records go aside, not into the replicated log.
"""

from __future__ import annotations

import enum
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, replace

from mdc.errors import CollectorError
from mdc.store.projection import atomic_write

STATE_FILE = "replication.json"
FIRST_EPOCH = 1


class EpochConflict(CollectorError):
    """Two stores disagree on who is primary: the older epoch is refused."""


class Role(enum.Enum):
    PRIMARY = "primary"
    FOLLOWER = "follower"


@dataclass(frozen=True, slots=True)
class EpochStart:
    """Epoch `epoch` began when the log ended at `ends` (per stream dirname, next seq)."""

    epoch: int
    ends: Mapping[str, int]


@dataclass(frozen=True, slots=True)
class ReplicationState:
    role: Role
    epoch: int
    history: tuple[EpochStart, ...]
    primary: str = ""  # the URL a follower follows
    origin: str = ""  # the region name of the store that wrote the records

    @classmethod
    def fresh(cls) -> ReplicationState:
        return cls(Role.PRIMARY, FIRST_EPOCH, (EpochStart(FIRST_EPOCH, {}),))

    @classmethod
    def load(cls, data_dir: str) -> ReplicationState:
        """The store's saved state; a store that never replicated is a primary at epoch 1."""
        path = os.path.join(data_dir, STATE_FILE)
        try:
            with open(path, encoding="utf-8") as f:
                raw = json.load(f)
            history = tuple(EpochStart(int(e), dict(ends)) for e, ends in raw["history"])
            return cls(Role(raw["role"]), int(raw["epoch"]), history, raw["primary"], raw["origin"])
        except FileNotFoundError:
            return cls.fresh()
        except (ValueError, KeyError, TypeError) as exc:
            raise CollectorError(
                f"{path} is damaged ({exc}): restore it, or delete it and run mdc replicate "
                "--fresh to copy the primary again"
            ) from exc

    def save(self, data_dir: str) -> None:
        body = {
            "role": self.role.value,
            "epoch": self.epoch,
            "history": [[e.epoch, dict(sorted(e.ends.items()))] for e in self.history],
            "primary": self.primary,
            "origin": self.origin,
        }
        atomic_write(os.path.join(data_dir, STATE_FILE), json.dumps(body, indent=1).encode())

    def promoted(self, ends: Mapping[str, int]) -> ReplicationState:
        """Primary at the next epoch, which begins at `ends` (the log's ends now)."""
        if self.role is Role.PRIMARY:
            raise EpochConflict(f"this store is already the primary (epoch {self.epoch})")
        epoch = self.epoch + 1
        history = (*self.history, EpochStart(epoch, dict(ends)))
        return replace(self, role=Role.PRIMARY, epoch=epoch, history=history, primary="")

    def following(self, url: str, epoch: int, history: tuple[EpochStart, ...]) -> ReplicationState:
        """A follower of `url`, adopting the primary's epoch and history."""
        return replace(self, role=Role.FOLLOWER, epoch=epoch, history=history, primary=url)


def check_primary(mine: int, primary: int, url: str) -> None:
    """A follower refuses records from a primary older than the epoch it knows."""
    if primary < mine:
        raise EpochConflict(
            f"{url} is at epoch {primary}, older than this store's epoch {mine}: it was "
            "demoted (another store was promoted since). Follow the current primary; to make "
            "the old one a follower again, run mdc replicate on its data dir"
        )


def check_follower(mine: int, follower: int) -> str | None:
    """Why a primary refuses a follower that knows a newer epoch (None: it does not)."""
    if follower > mine:
        return (
            f"this primary is at epoch {mine} but the follower knows epoch {follower}: this "
            "primary was demoted; follow the current primary"
        )
    return None


def divergence(
    mine: ReplicationState, ends: Mapping[str, int], primary: tuple[EpochStart, ...]
) -> dict[str, int]:
    """Per stream, where this store's log must be cut before following a primary with
    `primary` history: after the end of its epoch in that history. Empty: nothing to cut."""
    later = [e for e in primary if e.epoch > mine.epoch]
    if not later:
        ours = {e.epoch: e for e in mine.history}
        theirs = next((e for e in primary if e.epoch == mine.epoch), None)
        if theirs is not None and mine.epoch in ours and ours[mine.epoch] != theirs:
            raise EpochConflict(
                f"epoch {mine.epoch} began at different points here and on the primary: two "
                "stores were promoted to the same epoch. Copy the primary again (--fresh)"
            )
        return {}
    fork = later[0].ends
    return {s: fork.get(s, 0) for s, end in ends.items() if end > fork.get(s, 0)}
