"""No file of the repository names a path of a particular machine.

A test or script that names the folder it was written in (a work tree, a virtualenv, a home
folder) passes there and fails on every other machine, CI's fresh clone included."""

from __future__ import annotations

import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MACHINE_ROOTS = ("/work/", "/root/", "/home/", "/Users/", "C:\\Users\\")
"""Where machines keep work trees and virtualenvs; our files name paths relative to the repo."""
MAX_BYTES = 4_000_000


def tracked_files() -> list[Path]:
    listed = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True
    ).stdout
    return [ROOT / name for name in listed.decode().split("\0") if name]


def forbidden() -> list[str]:
    """The static machine roots, plus this checkout's own folder and the user's home."""
    return [*MACHINE_ROOTS, f"{ROOT}/", f"{Path.home()}/"]


def offending_lines(path: Path, patterns: list[str]) -> list[str]:
    """`line: pattern, ...` for each line of the file that names one of `patterns`."""
    found = []
    for lineno, line in enumerate(path.read_bytes().splitlines(), 1):
        hits = [p for p in patterns if p.encode() in line]
        if hits:
            found.append(f"{lineno}: {', '.join(hits)}")
    return found


def test_no_tracked_file_names_a_machine_path() -> None:
    offenders = []
    for path in tracked_files():
        if path == Path(__file__).resolve() or not path.is_file():
            continue
        if path.stat().st_size <= MAX_BYTES:
            lines = offending_lines(path, forbidden())
            offenders += [f"{path.relative_to(ROOT)}:{line}" for line in lines]
    assert not offenders, "machine-specific paths:\n" + "\n".join(offenders)


def test_the_check_sees_a_planted_path(tmp_path: Path) -> None:
    """The scan catches the defect it exists for: a fixed path into one machine's virtualenv."""
    planted = tmp_path / "test_planted.py"
    venv_mdc = f"{MACHINE_ROOTS[0]}venv/bin/mdc"  # built here, so this file names no such path
    planted.write_text(f'import os\nMDC = os.environ.get("MDC_BIN", "{venv_mdc}")\n')
    assert offending_lines(planted, forbidden()) == [f"2: {MACHINE_ROOTS[0]}"]
