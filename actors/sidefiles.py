"""Files `mdc run` keeps beside the store that collection can do without: the status file, the
simulator's ground truth, the run's API key, the traces.

Only the store may refuse data when the disk is full or read-only: it dead-letters, and the panel,
the metrics and /readyz say so. A side file failing the same way must cost only itself, never the
run (a full disk once killed `mdc run` from the status panel), so its writes go through
`SideFile.write`: the first failure of a streak is one warning on stderr, then the run goes on."""

from __future__ import annotations

import sys
from collections.abc import Callable


def _to_stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


class SideFile:
    """One such file: `what` and `path` name it in the warning, `without` says what is lost."""

    def __init__(
        self, what: str, path: str, without: str, warn: Callable[[str], None] = _to_stderr
    ) -> None:
        self.what = what
        self.path = path
        self.without = without
        self.warn = warn
        self.failing = False

    def write(self, writer: Callable[[], object]) -> bool:
        """Runs `writer`; False if it raised OSError (warned about once per streak of failures)."""
        try:
            writer()
        except OSError as exc:
            if not self.failing:
                self.warn(
                    f"mdc run: warning: cannot write the {self.what} {self.path} "
                    f"([Errno {exc.errno}] {exc.strerror}); {self.without}"
                )
            self.failing = True
            return False
        self.failing = False
        return True
