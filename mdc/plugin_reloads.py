"""Asking a running collector to reload a venue plugin, through files in its data directory.

`mdc plugins reload NAME` and the admin API (`POST /v1/plugins/{name}/reload`) write a request
file; the collector's driver, which owns the supervisor, picks requests up, carries each out and
writes its answer beside it. Files, like the alert silences: no process needs the address of
another, a request made while the driver is busy waits for it, and the answer outlives the
connection that asked.

    DATA_DIR/control/reload/<id>.request.json   {"id", "venue", "requested_ns"}
    DATA_DIR/control/reload/<id>.answer.json    {"id", "venue", "ok", "detail", "old", "new",
                                                 "answered_ns"}

Both are written to a temporary name and renamed, so a reader never sees half a file. A request
is taken (renamed to `.taken.json`) before it is carried out, so it is carried out at most once.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import asdict, dataclass
from pathlib import Path

import orjson

from mdc.errors import ConfigError

RELOAD_DIR = os.path.join("control", "reload")
_REQUEST, _TAKEN, _ANSWER = ".request.json", ".taken.json", ".answer.json"
MAX_ANSWERS = 100
"""Answers kept (the oldest are removed): the folder stays bounded."""


class BadReloadRequest(ConfigError):
    """A request naming no venue, or a file that is not a request."""


@dataclass(frozen=True)
class ReloadRequest:
    id: str
    venue: str
    requested_ns: int


@dataclass(frozen=True)
class ReloadAnswer:
    """`ok`: the new version runs; else `detail` says why not and the old one still runs."""

    id: str
    venue: str
    ok: bool
    detail: str
    old: str = ""
    new: str = ""
    answered_ns: int = 0


class ReloadInbox:
    """The request and answer files of one data directory."""

    def __init__(self, data_dir: str) -> None:
        self.folder = Path(data_dir) / RELOAD_DIR

    def submit(self, venue: str, now_ns: int) -> ReloadRequest:
        if not venue or "/" in venue or venue.startswith("."):
            raise BadReloadRequest(f"venue name {venue!r}: a plugin id such as 'binance'")
        request = ReloadRequest(secrets.token_hex(8), venue, now_ns)
        self._write(request.id + _REQUEST, asdict(request))
        return request

    def withdraw(self, request: ReloadRequest) -> bool:
        """Takes back a request nobody took yet (False: the collector is carrying it out)."""
        try:
            (self.folder / (request.id + _REQUEST)).unlink()
        except FileNotFoundError:
            return False
        return True

    def take(self) -> list[ReloadRequest]:
        """The waiting requests, oldest first, each now taken (never handed out twice)."""
        taken = []
        for path in sorted(self._files(_REQUEST), key=lambda p: p.stat().st_mtime_ns):
            target = path.with_name(path.name.replace(_REQUEST, _TAKEN))
            try:
                os.replace(path, target)
                body = orjson.loads(target.read_bytes())
                taken.append(ReloadRequest(body["id"], body["venue"], body["requested_ns"]))
            except (OSError, orjson.JSONDecodeError, KeyError, TypeError):
                continue  # vanished, or not a request: nothing to carry out
        return taken

    def answer(self, answer: ReloadAnswer) -> None:
        self._write(answer.id + _ANSWER, asdict(answer))
        (self.folder / (answer.id + _TAKEN)).unlink(missing_ok=True)
        answers = sorted(self._files(_ANSWER), key=lambda p: p.stat().st_mtime_ns)
        for old in answers[:-MAX_ANSWERS]:
            old.unlink(missing_ok=True)

    def answer_to(self, request: ReloadRequest) -> ReloadAnswer | None:
        try:
            body = orjson.loads((self.folder / (request.id + _ANSWER)).read_bytes())
        except FileNotFoundError:
            return None
        return ReloadAnswer(**body)

    def _files(self, suffix: str) -> list[Path]:
        try:
            return [p for p in self.folder.iterdir() if p.name.endswith(suffix)]
        except FileNotFoundError:
            return []

    def _write(self, name: str, body: dict) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        part = self.folder / f".{name}.part"
        part.write_bytes(orjson.dumps(body))
        os.replace(part, self.folder / name)
