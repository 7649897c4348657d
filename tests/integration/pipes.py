"""Children that tests stop with Ctrl-C: their output must still be read (a child writing to a
full pipe blocks, at exit too), and they must get SIGINT as a terminal would deliver it."""

from __future__ import annotations

import sys
import threading
from typing import IO


def drain(pipe: IO) -> threading.Thread:
    """Reads `pipe` to its end in a daemon thread from now on (the text is dropped)."""
    thread = threading.Thread(target=pipe.read, daemon=True)
    thread.start()
    return thread


RESET_SIGINT = (
    "import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); "
    "signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT}); "
    "os.execv(sys.argv[1], sys.argv[1:])"
)


def with_default_sigint(argv: list[str]) -> list[str]:
    """`argv` run so that it takes Ctrl-C as from a terminal. A child inherits an ignored SIGINT
    (Python then installs no KeyboardInterrupt for it): something in a long test session left the
    test process so, and the Ctrl-C tests waited in vain. A small Python resets SIGINT, then
    execs `argv` (no preexec_fn: unsafe in a process with threads)."""
    return [sys.executable, "-c", RESET_SIGINT, *argv]
