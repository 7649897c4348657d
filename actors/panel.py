"""The live status panel of `mdc run` / `mdc status`: a table on a terminal, a line otherwise."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import time
from collections.abc import Callable, Iterator

from rich.console import Console
from rich.live import Live
from rich.table import Table

PLAIN_EVERY_S = 5.0
STATUS_FILE = "status.json"
TITLE = "mdc run — Ctrl-C stops it (drains and fsyncs first)"
COLUMNS = (
    "actor",
    "state",
    "events/s",
    "messages",
    "lag ms",
    "restarts",
    "reconnects",
    "unacked",
    "in sync",
    "gaps",
)

Rows = Callable[[], dict[str, dict]]


class StatusPanel:
    """`rows()` gives one dict per actor (keys as in COLUMNS, missing ones shown blank)."""

    def __init__(self, rows: Rows, data_dir: str) -> None:
        self.rows = rows
        self.data_dir = data_dir
        self.console = Console()
        self._live: Live | None = None
        self._last: dict[str, int] = {}
        self._last_at = time.monotonic()

    @contextlib.contextmanager
    def live(self) -> Iterator[None]:
        if not self.console.is_terminal:
            yield
            return
        with Live(self.table(), console=self.console, refresh_per_second=2) as live:
            self._live = live
            yield
        self._live = None

    async def refresh_until(self, stop: asyncio.Event) -> None:
        """Redraw every second (a line every few seconds off a terminal), and keep
        DATA_DIR/status.json current for `mdc status`."""
        last_line = time.monotonic()
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 1.0)
            rows = self._with_rates()
            write_status(self.data_dir, rows)
            if self._live is not None:
                self._live.update(render(rows, self.data_dir))
            elif time.monotonic() - last_line >= PLAIN_EVERY_S:
                last_line = time.monotonic()
                print(line(rows, self.data_dir), flush=True)

    def _with_rates(self) -> dict[str, dict]:
        now = time.monotonic()
        elapsed = max(now - self._last_at, 1e-9)
        rows = self.rows()
        for name, row in rows.items():
            count = int(row.get("messages", 0) or 0)
            row["events/s"] = f"{max(0, count - self._last.get(name, 0)) / elapsed:.0f}"
            self._last[name] = count
        self._last_at = now
        return rows

    def table(self) -> Table:
        return render(self._with_rates(), self.data_dir)


def render(rows: dict[str, dict], data_dir: str, title: str = TITLE) -> Table:
    table = Table(title=title)
    for column in COLUMNS:
        table.add_column(column, justify="left" if column in ("actor", "state") else "right")
    for name, row in rows.items():
        table.add_row(name, *(str(row.get(c, "")) for c in COLUMNS[1:]))
    table.caption = f"data dir {data_dir}: {disk_bytes(data_dir) / 1e6:.1f} MB"
    return table


def line(rows: dict[str, dict], data_dir: str) -> str:
    parts = [
        f"{name} {row.get('state', '')} {row.get('events/s')}/s"
        for name, row in rows.items()
        if "messages" in row
    ]
    return "  ".join(parts) + f"  disk {disk_bytes(data_dir) / 1e6:.1f} MB"


def write_status(data_dir: str, rows: dict[str, dict]) -> None:
    """Atomically (write, rename), so a reader never sees half a file."""
    os.makedirs(data_dir, exist_ok=True)
    path = os.path.join(data_dir, STATUS_FILE)
    with open(path + ".tmp", "w") as f:
        json.dump({"written_ns": time.time_ns(), "rows": rows}, f, default=str)
    os.replace(path + ".tmp", path)


def disk_bytes(path: str) -> int:
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            with contextlib.suppress(OSError):
                total += os.stat(os.path.join(root, name)).st_size
    return total
