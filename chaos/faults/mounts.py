"""Mounts for storage faults: a tiny tmpfs over a directory, and a private mount namespace so no
mount can leak to the host.

Two ways to use them:
- Whole suite: `python -m chaos.faults.mounts -- python -m pytest tests/chaos` re-executes the
  command under `unshare -m --propagation private`. Every mount made inside (by the suite, by Ray
  workers it starts) vanishes when the namespace's last process exits, even after a crash.
- In one test (root, host namespace): `with tmpfs_mounted(dir, size):` unmounts in `finally`,
  lazily if a straggling fd keeps it busy.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Iterator

from chaos.faults.base import FaultSetupError

UNSHARE_PRIVATE = ("unshare", "-m", "--propagation", "private", "--")


def filesystem_type(path: str) -> str:
    """The type of the file system `path` lives on (longest matching mount point wins)."""
    real = os.path.realpath(path)
    best, best_type = "", ""
    with open("/proc/self/mountinfo", encoding="utf-8") as mountinfo:
        for line in mountinfo:
            fields = line.split()
            mount_point = _unescape(fields[4])
            fstype = fields[fields.index("-") + 1]
            inside = real == mount_point or real.startswith(mount_point.rstrip("/") + "/")
            if inside and len(mount_point) >= len(best):
                best, best_type = mount_point, fstype
    return best_type


def _unescape(field: str) -> str:
    """mountinfo escapes space, tab, newline and backslash as octal."""
    return field.encode().decode("unicode_escape")


def _run(argv: list[str]) -> None:
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise FaultSetupError(f"{' '.join(argv)} failed ({done.returncode}): {done.stderr.strip()}")


@contextlib.contextmanager
def tmpfs_mounted(path: str, size_bytes: int) -> Iterator[str]:
    """A tmpfs of `size_bytes` over `path` for the duration of the block; always unmounted."""
    if os.geteuid() != 0:
        raise FaultSetupError("mounting a tmpfs needs root (or run under `unshare -Urm`)")
    os.makedirs(path, exist_ok=True)
    _run(["mount", "-t", "tmpfs", "-o", f"size={size_bytes},mode=0755", "tmpfs", path])
    try:
        yield path
    finally:
        done = subprocess.run(["umount", path], capture_output=True, check=False)
        if done.returncode != 0:
            _run(["umount", "-l", path])


def private_argv(argv: list[str]) -> list[str]:
    return [*UNSHARE_PRIVATE, *argv]


def main(argv: list[str]) -> int:
    """Re-execute `argv` (after an optional `--`) inside a private mount namespace."""
    command = argv[1:] if argv[:1] == ["--"] else argv
    if not command:
        print("usage: python -m chaos.faults.mounts -- COMMAND [ARG...]", file=sys.stderr)
        return 2
    os.execvp(UNSHARE_PRIVATE[0], private_argv(command))
    return 0  # not reached: execvp replaces this process


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
