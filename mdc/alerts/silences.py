"""Silences, kept in one append-only file (`DATA_DIR/alerts/silences.jsonl`) that the CLI, the
admin API and the alert actor share: a silence can be set before the collector starts, survives
its restarts, and the actor notices a new line without any call to it.

A line is a silence (`{"id", "matchers", "startsAt", "endsAt", "createdBy", "comment"}`, times in
ns) or an expiry (`{"expire": id, "at": ns}`). Each line is written with one `write` and fsync'd.
A line that does not parse (a torn last write) is skipped and counted, never fatal.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
from dataclasses import dataclass, field

import orjson

from mdc.alerts.dispatch import Silence
from mdc.alerts.files import SILENCES_FILE
from mdc.alerts.matchers import BadMatcher, parse_matchers
from mdc.errors import ConfigError
from mdc.store.projection import append_line


class BadSilence(ConfigError):
    pass


@dataclass
class SilenceFile:
    path: str
    bad_lines: int = 0
    _seen: tuple[int, int] = field(default=(-1, -1))  # size, mtime_ns of the last load

    @classmethod
    def of(cls, data_dir: str) -> SilenceFile:
        return cls(os.path.join(data_dir, SILENCES_FILE))

    def changed(self) -> bool:
        """Whether the file differs from what `load` last read (cheap: one stat)."""
        return self._stat() != self._seen

    def load(self) -> dict[str, Silence]:
        self._seen = self._stat()
        silences: dict[str, Silence] = {}
        self.bad_lines = 0
        try:
            with open(self.path, "rb") as f:
                lines = f.read().splitlines()
        except FileNotFoundError:
            return silences
        for line in lines:
            try:
                self._apply(orjson.loads(line), silences)
            except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, BadMatcher):
                self.bad_lines += 1
        return silences

    def add(
        self, matchers: list[str], starts_at_ns: int, ends_at_ns: int, author: str, comment: str
    ) -> Silence:
        """A new silence, durable once this returns; BadSilence for bad matchers or times."""
        try:
            parsed = parse_matchers(matchers)
        except BadMatcher as exc:
            raise BadSilence(str(exc)) from exc
        if not parsed:
            raise BadSilence("a silence needs at least one matcher (--match name=value)")
        if ends_at_ns <= starts_at_ns:
            raise BadSilence("a silence must end after it starts")
        digest = hashlib.blake2b(
            orjson.dumps([matchers, starts_at_ns, ends_at_ns, author, comment]), digest_size=6
        )
        silence = Silence(digest.hexdigest(), parsed, starts_at_ns, ends_at_ns, author, comment)
        self._append(
            {
                "id": silence.id,
                "matchers": [str(m) for m in parsed],
                "startsAt": starts_at_ns,
                "endsAt": ends_at_ns,
                "createdBy": author,
                "comment": comment,
            }
        )
        return silence

    def expire(self, silence_id: str, now_ns: int) -> Silence:
        """End a silence now; BadSilence if there is no such silence or it already ended."""
        silence = self.load().get(silence_id)
        if silence is None:
            raise BadSilence(f"no silence {silence_id!r} (`mdc alerts silences` lists them)")
        if not silence.active(now_ns) and silence.starts_at_ns <= now_ns:
            raise BadSilence(f"silence {silence_id} has already ended")
        self._append({"expire": silence_id, "at": now_ns})
        return silence

    def _apply(self, record: dict, silences: dict[str, Silence]) -> None:
        if "expire" in record:
            old = silences.get(record["expire"])
            if old is not None:
                ends = min(old.ends_at_ns, int(record["at"]))
                silences[old.id] = dataclasses.replace(old, ends_at_ns=ends)
            return
        silences[record["id"]] = Silence(
            str(record["id"]),
            parse_matchers(record["matchers"]),
            int(record["startsAt"]),
            int(record["endsAt"]),
            str(record.get("createdBy", "")),
            str(record.get("comment", "")),
        )

    def _append(self, record: dict) -> None:
        append_line(self.path, orjson.dumps(record))

    def _stat(self) -> tuple[int, int]:
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return (-1, -1)
        return (st.st_size, st.st_mtime_ns)


def silence_state(silence: Silence, now_ns: int) -> str:
    if silence.active(now_ns):
        return "active"
    return "ended" if silence.ends_at_ns <= now_ns else "pending"


def silence_dict(silence: Silence, now_ns: int) -> dict:
    """A silence as the API and `active.json` show it (times in ns)."""
    return {
        "id": silence.id,
        "matchers": [str(m) for m in silence.matchers],
        "startsAt": silence.starts_at_ns,
        "endsAt": silence.ends_at_ns,
        "createdBy": silence.created_by,
        "comment": silence.comment,
        "state": silence_state(silence, now_ns),
    }
