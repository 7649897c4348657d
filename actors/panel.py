"""The live status panel of `mdc run` / `mdc status`: a table on a terminal, a line otherwise.
The table fits the width it is given, in plain text, so it reads the same in a pipe."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import time
from collections.abc import Callable, Iterator, Mapping
from functools import partial

from rich.console import Console
from rich.live import Live
from rich.text import Text

from actors.sidefiles import SideFile

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
GAP = "  "
LEFT = ("actor", "state")
"""Text columns, aligned left; the others hold numbers, aligned right."""
REFUSING = "refusing writes"
"""Ping key of the writer: why its store refuses writes now ("" while it takes them)."""

Rows = Callable[[], dict[str, dict]]


class StatusPanel:
    """`rows()` gives one dict per actor (keys as in COLUMNS, missing ones shown blank)."""

    def __init__(self, rows: Rows, data_dir: str, console: Console | None = None) -> None:
        self.rows = rows
        self.data_dir = data_dir
        self.console = console or Console()
        self._live: Live | None = None
        self._last: dict[str, int] = {}
        self._last_at = time.monotonic()
        self._status_file = SideFile(
            "status file",
            os.path.join(data_dir, STATUS_FILE),
            "`mdc status` shows older data until it can",
        )

    @contextlib.contextmanager
    def live(self) -> Iterator[None]:
        if not self.console.is_terminal:
            yield
            return
        with Live(
            self.view(self._with_rates()), console=self.console, refresh_per_second=2
        ) as live:
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
            self._status_file.write(partial(write_status, self.data_dir, rows))
            if self._live is not None:
                self._live.update(self.view(rows))
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

    def view(self, rows: dict[str, dict]) -> Text:
        """Laid out for the terminal's width now: it is read again at each refresh."""
        return Text(text(rows, self.console.width, caption=footer(rows, self.data_dir)))


def text(rows: dict[str, dict], width: int, title: str = TITLE, caption: str = "") -> str:
    """The panel as plain text no wider than `width`. Names and headers are never cut (cut
    down, "provider:kraken" and "provider:binance" look alike): when the table is too wide,
    its columns go into several tables, each repeating the actor column."""
    cells = _cells(rows)
    widths = {column: max(map(len, values)) for column, values in cells.items()}
    room = width - widths["actor"] - len(GAP)
    groups = _fill(list(widths)[1:], widths.__getitem__, room, len(GAP)) or [[]]
    tables = [_grid(cells, widths, group) for group in groups]
    notes = [words for part in caption.splitlines() for words in _words(part, width)]
    blocks = [_words(title, width), *tables, notes]
    return "\n\n".join("\n".join(block) for block in blocks if block) + "\n"


def _cells(rows: dict[str, dict]) -> dict[str, list[str]]:
    """Header then one cell per actor, by column; a column no actor reports is left out."""
    cells = {"actor": ["actor", *rows]}
    for column in COLUMNS[1:]:
        values = [_cell(row.get(column)) for row in rows.values()]
        if any(values):
            cells[column] = [column, *values]
    return cells


def _cell(value: object) -> str:
    return "" if value is None else str(value)


def _grid(cells: dict[str, list[str]], widths: dict[str, int], group: list[str]) -> list[str]:
    columns = ["actor", *group]
    lines = [
        GAP.join(
            cells[c][i].ljust(widths[c]) if c in LEFT else cells[c][i].rjust(widths[c])
            for c in columns
        ).rstrip()
        for i in range(len(cells["actor"]))
    ]
    lines.insert(1, GAP.join("-" * widths[c] for c in columns))
    return lines


def _words(prose: str, width: int) -> list[str]:
    return [" ".join(words) for words in _fill(prose.split(), len, width, 1)]


def _fill(items: list[str], size: Callable[[str], int], room: int, gap: int) -> list[list[str]]:
    """Greedy filling of lines of `room` characters; an item wider than that gets a line alone
    rather than being cut."""
    lines: list[list[str]] = []
    used = 0
    for item in items:
        if lines and used + gap + size(item) <= room:
            lines[-1].append(item)
            used += gap + size(item)
        else:
            lines.append([item])
            used = size(item)
    return lines


def footer(rows: Mapping[str, Mapping], data_dir: str) -> str:
    """Below the table: the data dir's size, then why the store refuses writes, if it does."""
    return "\n".join([f"data dir {data_dir}: {disk_bytes(data_dir) / 1e6:.1f} MB", *refusals(rows)])


def refusals(rows: Mapping[str, Mapping]) -> list[str]:
    """One line per actor whose store refuses writes (the writer), saying why."""
    return [f"store refusing writes: {row[REFUSING]}" for row in rows.values() if row.get(REFUSING)]


def line(rows: dict[str, dict], data_dir: str) -> str:
    parts = [
        f"{name} {row.get('state', '')} {row.get('events/s')}/s"
        for name, row in rows.items()
        if "messages" in row
    ]
    parts.append(f"disk {disk_bytes(data_dir) / 1e6:.1f} MB")
    return "  ".join(parts + refusals(rows))


def write_status(data_dir: str, rows: dict[str, dict]) -> None:
    """Atomically (write, rename), so a reader never sees half a file; a write that fails
    (disk full) removes its temporary file rather than leave it taking space."""
    os.makedirs(data_dir, exist_ok=True)
    path = os.path.join(data_dir, STATUS_FILE)
    try:
        with open(path + ".tmp", "w") as f:
            json.dump({"written_ns": time.time_ns(), "rows": rows}, f, default=str)
        os.replace(path + ".tmp", path)
    except OSError:
        with contextlib.suppress(OSError):
            os.remove(path + ".tmp")
        raise


def disk_bytes(path: str) -> int:
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            with contextlib.suppress(OSError):
                total += os.stat(os.path.join(root, name)).st_size
    return total
