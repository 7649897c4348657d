"""Children's output that a test stops reading must still be read: a child writing to a full pipe
blocks (at exit too, where a Ctrl-C test then waits for it in vain)."""

from __future__ import annotations

import threading
from typing import IO


def drain(pipe: IO) -> threading.Thread:
    """Reads `pipe` to its end in a daemon thread from now on (the text is dropped)."""
    thread = threading.Thread(target=pipe.read, daemon=True)
    thread.start()
    return thread
