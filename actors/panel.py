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
from typing import Any

from rich.console import Console
from rich.live import Live
from rich.text import Text

from actors.sidefiles import SideFile

PLAIN_EVERY_S = 5.0
STATUS_FILE = "status.json"
STALE_AFTER_NS = 10_000_000_000
"""The panel rewrites status.json every second: one older than this was left by a collector
that is not running (`mdc status`, `mdc plugins reload`)."""
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
USAGE = "usage"
"""Ping key of a provider: its connection's usage totals (`ConnectionStats.usage`), and the key
of status.json holding them summed per venue over the run (`UsageTotals`)."""

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
        self.usage = UsageTotals(time.time_ns())
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
            rows = self.write_once()
            if self._live is not None:
                self._live.update(self.view(rows))
            elif time.monotonic() - last_line >= PLAIN_EVERY_S:
                last_line = time.monotonic()
                print(line(rows, self.data_dir), flush=True)

    def write_once(self) -> dict[str, dict]:
        """One refresh of status.json: the rows with their rates, and the usage totals."""
        rows = self._with_rates()
        self.usage.fold(rows)
        self._status_file.write(partial(write_status, self.data_dir, rows, self.usage.as_dict()))
        return rows

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


def read_status(data_dir: str) -> Any:
    """DATA_DIR/status.json as the running (or last) collector wrote it, for every reader
    (`mdc status`, `/v1/status`, the cost view, `mdc plugins reload`); FileNotFoundError when
    no collector wrote one here, ValueError when it is not JSON."""
    with open(os.path.join(data_dir, STATUS_FILE), "rb") as f:
        return json.load(f)


def write_status(data_dir: str, rows: dict[str, dict], usage: Mapping | None = None) -> None:
    """Atomically (write, rename), so a reader never sees half a file; a write that fails
    (disk full) removes its temporary file rather than leave it taking space. `usage` (see
    `UsageTotals.as_dict`) goes under its own key, for readers without Prometheus."""
    os.makedirs(data_dir, exist_ok=True)
    path = os.path.join(data_dir, STATUS_FILE)
    status = {"written_ns": time.time_ns(), "rows": rows}
    if usage is not None:
        status[USAGE] = usage
    try:
        with open(path + ".tmp", "w") as f:
            json.dump(status, f, default=str)
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


class UsageTotals:
    """Provider usage (the `usage` of provider pings) summed per venue over the whole run.

    A ping's counters restart from zero with each provider incarnation (name, node, pid, start
    time), so each value is read as a delta against the last one seen from the same incarnation,
    as the Prometheus counters are (actors/metrics.py): the totals only go up across restarts.
    `mdc cost` and /v1/cost read them from status.json, where Prometheus is not at hand."""

    def __init__(self, since_ns: int) -> None:
        self.since_ns = since_ns
        self._last: dict[tuple, int] = {}
        self._totals: dict[str, dict[str, int]] = {}

    def fold(self, rows: Mapping[str, Mapping]) -> None:
        alive = set()
        for name, row in rows.items():
            usage = row.get(USAGE)
            if not isinstance(usage, Mapping):
                continue
            incarnation = (name, row.get("node"), row.get("pid"), row.get("started_ns"))
            alive.add(incarnation)
            venue = str(row.get("venue") or name.partition(":")[2] or name)
            totals = self._totals.setdefault(venue, {})
            for key, value in _flat(usage):
                totals[key] = totals.get(key, 0) + self._step(incarnation, key, value)
        self._last = {k: v for k, v in self._last.items() if k[0] in alive}

    def _step(self, incarnation: tuple, key: str, value: int) -> int:
        previous = self._last.get((incarnation, key), 0)
        self._last[(incarnation, key)] = value
        return value - previous if value >= previous else value

    def as_dict(self) -> dict:
        """`{"since_ns": ..., "providers": {venue: {"messages": n, ..., "api_calls": {kind: n}}}}`,
        each venue's totals in the shape of a ping's `usage`."""
        providers: dict[str, dict] = {}
        for venue, totals in sorted(self._totals.items()):
            nested: dict = providers.setdefault(venue, {})
            for key, n in sorted(totals.items()):
                outer, _, inner = key.partition("/")
                if inner:
                    nested.setdefault(outer, {})[inner] = n
                else:
                    nested[outer] = n
        return {"since_ns": self.since_ns, "providers": providers}


def _flat(usage: Mapping) -> Iterator[tuple[str, int]]:
    """`usage` as (key, count) pairs, one level of nesting kept as `outer/inner` keys."""
    for key, value in usage.items():
        inner = value.items() if isinstance(value, Mapping) else ()
        if _count(value):
            yield str(key), value
        for kind, n in inner:
            if _count(n):
                yield f"{key}/{kind}", n


def _count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0
