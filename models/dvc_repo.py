"""The datasets workspace: a git repository with DVC inside, driven through the `git` and `dvc`
programs (DVC's Python API is not a stable interface; its command line is).

Layout of the workspace (by default DATA_DIR/datasets):

    NAME/K/events.parquet      the events (models.snapshot); tracked by DVC, ignored by git
    NAME/K/events.parquet.dvc  DVC's pointer to them (md5, size); committed
    NAME/K/manifest.json       what version K holds, with its training sha256; committed

Revision scheme: the versions of a name are numbered K = 1, 2, ...; each is added by one git
commit, tagged `NAME@K`, and never rewritten, so every version sits side by side in the checkout
and `NAME@K` needs no git checkout to read. A version exists once its commit does: the data is
pushed to the DVC remote before that commit, and any failure until it is tagged undoes the
half-made version (files, `dvc add`, commit, the remote setting), so it is whole or absent.

The remote is the workspace's default DVC remote, named `mdc`: a local folder
(DATA_DIR/dvc-remote) unless `--remote URL` or MDC_DVC_REMOTE named another. It is kept in
`.dvc/config.local` (a machine's choice, not part of the versions); `dvc remote modify` inside
the workspace configures anything else DVC supports (credentials, endpoints).
"""

from __future__ import annotations

import contextlib
import fcntl
import importlib.util
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import yaml

from models.snapshot import (
    EVENTS_FILE,
    INSTALL_HINT,
    MANIFEST_FILE,
    NAME,
    DatasetError,
    DatasetRef,
    DatasetToolError,
    Listed,
    Manifest,
    MissingExtra,
    UnknownDataset,
    read_manifest,
)

REMOTE_NAME = "mdc"
REMOTE_ENV = "MDC_DVC_REMOTE"
GIT_IDENTITY = (
    *("-c", "user.name=mdc", "-c", "user.email=mdc@localhost"),
    *("-c", "commit.gpgsign=false", "-c", "tag.gpgsign=false"),
)
"""Commits need an author; passing one keeps the user's global git config untouched."""
DVC_ENV = {"DVC_NO_ANALYTICS": "1"}
GIT_ENV_LEAKS = ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE")
"""Set when mdc runs from a git hook: they would point git at another repository."""
QUIET_CONFIG = "[core]\n    check_update = false\n    analytics = false\n"
"""No update checks or analytics, also for dvc run by hand in the workspace (there may be no
network); written directly into the fresh, empty .dvc/config, as `dvc config` would."""
LOCK_FILE = "mdc-datasets.lock"
CACHE_FILES = Path(".dvc") / "cache" / "files" / "md5"
"""Where DVC 3 keeps a file's object (md5[:2]/md5[2:]), for the list's LOCAL column only."""

Say = Callable[[str], None]
Writer = Callable[[Path, int], Manifest]
"""Writes version K of a name into the folder given; returns its manifest."""


def require_dvc() -> None:
    """DVC is an optional extra: say in one line how to get it instead of a traceback."""
    if importlib.util.find_spec("dvc") is None:
        raise MissingExtra(f"dataset versions need DVC, which is not installed: {INSTALL_HINT}")
    if shutil.which("git") is None:
        raise MissingExtra("dataset versions need git, which is not on PATH: install git")


def remote_url(text: str) -> str:
    """A local folder is made absolute (DVC would read it relative to its config file)."""
    return text if "://" in text else os.path.abspath(text)


@dataclass(frozen=True)
class Resolved:
    manifest: Manifest
    commit: str


class Workspace:
    """One datasets workspace; every method is a few git/dvc calls plus file reads."""

    def __init__(self, root: Path, say: Say) -> None:
        self.root = root
        self.say = say

    @classmethod
    def existing(cls, root: Path, say: Say) -> Workspace:
        if not (root / ".dvc").is_dir():
            raise UnknownDataset(f"no datasets in {root}: take one with `mdc dataset snapshot`")
        return cls(root, say)

    @classmethod
    def create(cls, root: Path, say: Say, remote: str) -> Workspace:
        """The workspace at `root`, made on first use in a temp folder renamed into place, so
        an interrupted setup leaves no half-made workspace."""
        if (root / ".dvc").is_dir():
            return cls(root, say)
        if root.exists():
            raise DatasetError(f"{root} exists but is no datasets workspace; move it away")
        say(f"creating the datasets workspace {root} (git + DVC, remote {remote})")
        staging = root.with_name(f"{root.name}.init-{os.getpid()}")
        try:
            staging.mkdir(parents=True)
            cls(staging, say)._init(remote)
            staging.rename(root)
        except BaseException as exc:
            shutil.rmtree(staging, ignore_errors=True)
            lost_race = isinstance(exc, OSError) and (root / ".dvc").is_dir()
            if not lost_race:  # else another snapshot made it first: use that one
                raise
        return cls(root, say)

    def _init(self, remote: str) -> None:
        self.git("init", "-q")
        self.dvc("init")
        (self.root / ".dvc" / "config").write_text(QUIET_CONFIG)
        self.git("add", "-A")
        self.git(*GIT_IDENTITY, "commit", "-q", "-m", "mdc datasets workspace")
        self.dvc("remote", "add", "--local", "-d", "-f", REMOTE_NAME, remote)

    # -- programs ---------------------------------------------------------------------------

    def git(self, *argv: str) -> str:
        done = self._run(["git", *argv])
        if done.returncode != 0:
            reason = (done.stderr or done.stdout).strip().splitlines() or ["no reason given"]
            verb = next(a for a in argv if not a.startswith("-") and "=" not in a)
            raise DatasetToolError(f"git {verb} failed in {self.root}: {reason[-1]}")
        return done.stdout

    def dvc(self, *argv: str) -> str:
        done = self._run([sys.executable, "-m", "dvc", *argv])
        if done.returncode != 0:
            raise DatasetToolError(dvc_reason(done.stderr + done.stdout))
        return done.stdout

    def _run(self, argv: list[str]) -> subprocess.CompletedProcess[str]:
        env = {k: v for k, v in os.environ.items() if k not in GIT_ENV_LEAKS} | DVC_ENV
        return subprocess.run(
            argv,
            cwd=self.root,
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            check=False,
        )

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """One writer at a time (two would race for K, the git index and DVC's own lock)."""
        with open(self.root / ".git" / LOCK_FILE, "a") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                self.say("waiting for another dataset command to finish")
                fcntl.flock(lock, fcntl.LOCK_EX)
            yield

    # -- reading ----------------------------------------------------------------------------

    def versions(self) -> dict[str, list[int]]:
        """Committed versions by name: a folder no commit holds (a crash) is not a version."""
        found: dict[str, list[int]] = {}
        for line in self.git("ls-files", "--", f"*/{MANIFEST_FILE}").splitlines():
            parts = line.split("/")
            if len(parts) == 3 and NAME.fullmatch(parts[0]) and parts[1].isdigit():
                found.setdefault(parts[0], []).append(int(parts[1]))
        return {name: sorted(ks) for name, ks in sorted(found.items())}

    def resolve(self, ref: DatasetRef) -> Resolved:
        """NAME: the newest version; NAME@K: version K; NAME@REV (any git revision, e.g. a
        commit id): the newest version of NAME that commit holds."""
        versions = self.versions()
        if ref.name not in versions:
            known = ", ".join(versions) or "none yet"
            raise UnknownDataset(f"no dataset {ref.name!r} in {self.root} (datasets: {known})")
        have = versions[ref.name]
        if ref.rev is None:
            version = have[-1]
        elif ref.rev.isdigit():
            version = int(ref.rev)
            if version not in have:
                listed = ", ".join(map(str, have))
                message = f"dataset {ref.name} has no version {version} (versions: {listed})"
                raise UnknownDataset(message)
        else:
            version = self._version_at(ref)
        manifest = read_manifest(self.root / ref.name / str(version) / MANIFEST_FILE)
        return Resolved(manifest, self._commit(f"{ref.name}@{version}"))

    def _version_at(self, ref: DatasetRef) -> int:
        rev = str(ref.rev)
        done = None
        if not rev.startswith("-"):
            done = self._run(["git", "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}"])
        if done is None or done.returncode != 0:
            raise UnknownDataset(f"unknown revision {rev!r} in {self.root}: use NAME@K or a commit")
        commit = done.stdout.strip()
        tree = self.git("ls-tree", "--name-only", commit, f"{ref.name}/").splitlines()
        held = [int(k) for _, _, k in (p.partition("/") for p in tree) if k.isdigit()]
        if not held:
            raise UnknownDataset(f"dataset {ref.name} has no version at revision {rev}")
        return max(held)

    def _commit(self, tag: str) -> str:
        return self.git("rev-list", "-n", "1", tag, "--").strip()

    def listed(self) -> list[Listed]:
        tags = dict(
            line.split(" ", 1)
            for line in self.git(
                "for-each-ref", "--format=%(refname:short) %(objectname)", "refs/tags"
            ).splitlines()
        )
        rows = []
        for name, ks in self.versions().items():
            for k in ks:
                manifest = read_manifest(self.root / name / str(k) / MANIFEST_FILE)
                events = self.root / name / str(k) / EVENTS_FILE
                cached = self._cache_object(events).is_file()
                rows.append(Listed(manifest, tags.get(manifest.ref), cached, events.is_file()))
        return rows

    def _cache_object(self, events: Path) -> Path:
        pointer = events.with_name(EVENTS_FILE + ".dvc")
        try:
            md5 = str(yaml.safe_load(pointer.read_text())["outs"][0]["md5"])
        except (OSError, yaml.YAMLError, KeyError, IndexError, TypeError) as exc:
            raise DatasetError(f"{pointer}: unreadable DVC pointer ({exc})") from exc
        return self.root / CACHE_FILES / md5[:2] / md5[2:]

    def events_file(self, resolved: Resolved) -> Path:
        """The version's Parquet file in the workspace, checked out from the cache or pulled
        from the remote when it is not there."""
        manifest = resolved.manifest
        events = self.root / manifest.name / str(manifest.version) / EVENTS_FILE
        if events.is_file():
            return events
        pointer = str(events.relative_to(self.root)) + ".dvc"
        with self._locked():
            if self._cache_object(events).is_file():
                self.dvc("checkout", pointer)
            else:
                self.say(f"pulling {manifest.ref} ({manifest.events} events) from the DVC remote")
                try:
                    self.dvc("pull", pointer)
                except DatasetToolError as exc:
                    where = self._remote_description()
                    message = f"could not pull {manifest.ref} from {where}: {exc}"
                    raise DatasetToolError(message) from exc
        return events

    def _remote_description(self) -> str:
        """'the DVC remote mdc (URL)', for error messages only (it costs a dvc call). The
        config is listed level by level (repo, then local), so later lines win."""
        listed = ""
        with contextlib.suppress(DatasetToolError):
            listed = self.dvc("config", "--list")
        pairs = (line.partition("=") for line in listed.splitlines())
        settings = {key: value for key, _, value in pairs}
        name = settings.get("core.remote")
        if name is None:
            return "the DVC remote (none is set as default)"
        return f"the DVC remote {name} ({settings.get(f'remote.{name}.url', '?')})"

    # -- writing ----------------------------------------------------------------------------

    def add_version(self, name: str, write: Writer, remote: str | None) -> Manifest:
        """Write, `dvc add`, push, then commit and tag the next version of `name`. Anything
        failing before the commit undoes the version, so it is whole or absent."""
        with self._locked():
            version = self.versions().get(name, [0])[-1] + 1
            folder = self.root / name / str(version)
            shutil.rmtree(folder, ignore_errors=True)  # an interrupted snapshot's leftovers
            config = self.root / ".dvc" / "config.local"
            saved = config.read_bytes() if config.is_file() else None
            head = self.git("rev-parse", "HEAD").strip()
            try:
                return self._add(folder, version, write, remote)
            except BaseException:
                self._undo(head, folder, config, saved)
                raise

    def _add(self, folder: Path, version: int, write: Writer, remote: str | None) -> Manifest:
        if remote is not None:
            self.dvc("remote", "add", "--local", "-d", "-f", REMOTE_NAME, remote)
        manifest = write(folder, version)
        relative = folder.relative_to(self.root).as_posix()
        self.say(f"{manifest.ref}: {manifest.events} events written; adding to DVC")
        self.dvc("add", f"{relative}/{EVENTS_FILE}")
        self.say(f"{manifest.ref}: pushing to the DVC remote")
        try:
            self.dvc("push", f"{relative}/{EVENTS_FILE}.dvc")
        except DatasetToolError as exc:
            where = self._remote_description()
            raise DatasetToolError(f"could not push {manifest.ref} to {where}: {exc}") from exc
        message = f"dataset {manifest.ref}: {manifest.events} events, sha256 {manifest.sha256}"
        self.git("add", "--", relative)
        self.git(*GIT_IDENTITY, "commit", "-q", "-m", message, "-m", manifest.source)
        self.git("tag", "-f", manifest.ref)
        return manifest

    def _undo(self, head: str, folder: Path, config: Path, saved: bytes | None) -> None:
        """Back to the commit before: HEAD and index (a commit whose tag failed included),
        the folder, the remote setting. Objects left in the cache or remote are harmless."""
        self._run(["git", "reset", "-q", head])
        shutil.rmtree(folder, ignore_errors=True)
        if saved is None:
            config.unlink(missing_ok=True)
        else:
            config.write_bytes(saved)


def dvc_reason(output: str) -> str:
    """DVC's own reason, from its output: the first ERROR line, or what it warned of."""
    if "do not exist neither locally nor on remote" in output:
        return "the remote does not hold this data"
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    for line in lines:
        if line.startswith("ERROR:"):
            return line.removeprefix("ERROR:").strip().removeprefix("unexpected error - ")
    return lines[-1] if lines else "dvc failed without saying why"
