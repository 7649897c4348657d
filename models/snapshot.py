"""Dataset snapshots: a frozen selection of stored events, as a Parquet file and a manifest.

A snapshot holds every stored event of the selection (trades, book snapshots and deltas, gaps,
status: all that `mdc train` reads from the store), in stored order, one row each: `venue`,
`symbol`, `type`, `ts_event`, `ts_recv` for filtering with any Parquet reader, and `event`, the
event's canonical msgpack encoding (`mdc.events.to_msgpack`; decimals as exact strings, never
floats). Reading decodes `event` back, so the events come back identical, and so does the
sha256 `models.dataset` computes over their encoding: the manifest records it, and training on
the snapshot must reproduce it. This module writes and reads files but runs no program; the
versioning (git, DVC) lives in `models.dvc_repo`.
"""

from __future__ import annotations

import os
import re
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import msgspec
import pyarrow as pa
import pyarrow.parquet as pq

from mdc.errors import CollectorError, ConfigError
from mdc.events import Event, from_msgpack, to_msgpack, type_name
from mdc.timefmt import format_rfc3339_ns
from models.dataset import EventFingerprint

FORMAT = "mdc-events-parquet/1"
EVENTS_FILE = "events.parquet"
MANIFEST_FILE = "manifest.json"
BATCH_ROWS = 20_000
"""Rows per Parquet row group: bounds memory on write and read, whatever the snapshot's size."""
NAME = re.compile(r"[a-z][a-z0-9_-]{0,63}")
INSTALL_HINT = "pip install 'mdc[datasets]' (or: bash scripts/setup datasets)"
SCHEMA = pa.schema(
    [
        ("venue", pa.string()),
        ("symbol", pa.string()),
        ("type", pa.string()),
        ("ts_event", pa.int64()),
        ("ts_recv", pa.int64()),
        ("event", pa.binary()),
    ]
)


class DatasetError(CollectorError):
    """A dataset operation that cannot proceed; the message says what to do instead."""


class UnknownDataset(DatasetError):
    """The caller named a dataset, version or revision the workspace does not hold."""


class EmptySelection(DatasetError):
    """The selection matched no stored event: a snapshot of nothing is refused."""


class DatasetToolError(DatasetError):
    """git or DVC failed (remote unreachable, lock held, disk full); carries their reason."""


class MissingExtra(ConfigError):
    """DVC (the optional `datasets` extra) is not installed."""


class Selection(msgspec.Struct, frozen=True):
    """Which stored events a snapshot holds: ts_recv in [start_ns, end_ns), one venue/symbol."""

    start_ns: int | None = None
    end_ns: int | None = None
    venue: str | None = None
    symbol: str | None = None


class Manifest(msgspec.Struct, frozen=True):
    """What one snapshot version holds; `sha256` is the training data hash it must give."""

    name: str
    version: int
    selection: Selection
    source: str
    events: int
    sha256: str
    from_ns: int | None
    to_ns: int | None
    instruments: list[tuple[str, str]]
    types: dict[str, int]
    created_at: str
    mdc_version: str
    format: str = FORMAT

    @property
    def ref(self) -> str:
        return f"{self.name}@{self.version}"


@dataclass(frozen=True)
class SnapshotHead:
    """What the caller decides about a snapshot; `write_snapshot` measures the rest."""

    name: str
    version: int
    selection: Selection
    source: str
    created_at_ns: int
    mdc_version: str


@dataclass(frozen=True)
class DatasetRef:
    """`N` (newest version) or `N@rev`: rev is a version number or a git revision."""

    name: str
    rev: str | None

    def __str__(self) -> str:
        return self.name if self.rev is None else f"{self.name}@{self.rev}"


def check_name(name: str) -> str:
    """Names become a folder and a git tag prefix, so they are kept plain."""
    if not NAME.fullmatch(name):
        raise DatasetError(
            f"bad dataset name {name!r}: use lowercase letters, digits, _ and -, "
            "starting with a letter (at most 64)"
        )
    return name


def parse_ref(text: str) -> DatasetRef:
    name, at, rev = text.partition("@")
    if at and not rev:
        raise DatasetError(f"bad dataset {text!r}: use NAME or NAME@REV, e.g. btc@2")
    return DatasetRef(check_name(name), rev or None)


class _Summary:
    """Everything the manifest says about the events, gathered as they are written."""

    def __init__(self) -> None:
        self.fingerprint = EventFingerprint()
        self.instruments: set[tuple[str, str]] = set()
        self.types: Counter[str] = Counter()

    def add(self, event: Event) -> None:
        self.fingerprint.add(event)
        self.instruments.add((event.venue, event.symbol))
        self.types[type_name(event)] += 1


def write_snapshot(events: Iterable[Event], directory: Path, head: SnapshotHead) -> Manifest:
    """Write `events` and their manifest into `directory`. Each file appears whole or not at
    all (temp file, fsync, rename); an empty selection raises EmptySelection, writing nothing."""
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / EVENTS_FILE
    part = directory / (EVENTS_FILE + ".part")
    summary = _Summary()
    try:
        _write_parquet(events, part, summary)
        if summary.fingerprint.events == 0:
            raise EmptySelection(f"no events in {head.source}: nothing to snapshot")
        os.replace(part, target)
    finally:
        part.unlink(missing_ok=True)
    fp = summary.fingerprint.result()
    manifest = Manifest(
        name=head.name,
        version=head.version,
        selection=head.selection,
        source=head.source,
        events=fp.events,
        sha256=fp.sha256,
        from_ns=fp.from_ns,
        to_ns=fp.to_ns,
        instruments=sorted(summary.instruments),
        types=dict(sorted(summary.types.items())),
        created_at=format_rfc3339_ns(head.created_at_ns),
        mdc_version=head.mdc_version,
    )
    _write_durably(directory / MANIFEST_FILE, msgspec.json.format(msgspec.json.encode(manifest)))
    return manifest


def _write_parquet(events: Iterable[Event], path: Path, summary: _Summary) -> None:
    with pq.ParquetWriter(path, SCHEMA, compression="zstd") as writer:
        batch: list[Event] = []
        for event in events:
            summary.add(event)
            batch.append(event)
            if len(batch) >= BATCH_ROWS:
                writer.write_table(_table(batch))
                batch = []
        if batch:
            writer.write_table(_table(batch))
    with open(path, "rb+") as f:
        os.fsync(f.fileno())


def _table(events: list[Event]) -> pa.Table:
    return pa.table(
        {
            "venue": [e.venue for e in events],
            "symbol": [e.symbol for e in events],
            "type": [type_name(e) for e in events],
            "ts_event": [e.ts_event for e in events],
            "ts_recv": [e.ts_recv for e in events],
            "event": [to_msgpack(e) for e in events],
        },
        schema=SCHEMA,
    )


def _write_durably(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:
        f.write(data + b"\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def read_events(path: Path) -> Iterator[Event]:
    """The snapshot's events in stored order, decoded from their msgpack column; a damaged
    file is a DatasetError, wherever in the file the damage is met."""
    try:
        with pq.ParquetFile(path) as parquet:
            for batch in parquet.iter_batches(batch_size=BATCH_ROWS, columns=["event"]):
                yield from map(from_msgpack, batch.column(0).to_pylist())
    except (OSError, pa.ArrowException, msgspec.DecodeError) as exc:
        raise DatasetError(f"{path}: unreadable snapshot ({exc})") from exc


def read_manifest(path: Path) -> Manifest:
    try:
        return msgspec.json.decode(path.read_bytes(), type=Manifest)
    except (OSError, msgspec.DecodeError) as exc:
        raise DatasetError(f"{path}: unreadable manifest ({exc})") from exc


# -- `mdc dataset list` -------------------------------------------------------------------------


@dataclass(frozen=True)
class Listed:
    """One version as listed: its manifest, and whether its data can be read without a pull."""

    manifest: Manifest
    commit: str | None
    in_cache: bool
    in_workspace: bool

    def as_json(self) -> dict[str, object]:
        return msgspec.to_builtins(self.manifest) | {
            "ref": self.manifest.ref,
            "commit": self.commit,
            "in_cache": self.in_cache,
            "in_workspace": self.in_workspace,
        }


WIDTH = 80
MIN_INSTRUMENTS_WIDTH = 8


def format_listing(listed: list[Listed]) -> list[str]:
    """One line per version within 80 columns: INSTRUMENTS comes last and is cut (ending in ~)
    to the room left; `--json` has everything."""
    head = ("VERSION", "EVENTS", "FROM (UTC)", "SPAN", "SHA256", "LOCAL", "INSTRUMENTS")
    rows = [head, *(_row(item) for item in listed)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(head) - 1)]
    room = max(MIN_INSTRUMENTS_WIDTH, WIDTH - sum(widths) - 2 * len(widths))
    return [_line(row, widths, room) for row in rows]


def _line(row: tuple[str, ...], widths: list[int], room: int) -> str:
    fixed = zip(row[:-1], widths, strict=True)
    cells = [c.rjust(w) if i == 1 else c.ljust(w) for i, (c, w) in enumerate(fixed)]
    last = row[-1] if len(row[-1]) <= room else row[-1][: room - 1] + "~"
    return "  ".join([*cells, last]).rstrip()


def _row(item: Listed) -> tuple[str, ...]:
    m = item.manifest
    start = "-" if m.from_ns is None else format_rfc3339_ns(m.from_ns)[:19].replace("T", " ")
    span = "-" if m.from_ns is None or m.to_ns is None else format_span(m.to_ns - m.from_ns)
    local = "yes" if item.in_cache or item.in_workspace else "no"
    return (m.ref, str(m.events), start, span, m.sha256[:8], local, _instruments(m.instruments))


def _instruments(instruments: list[tuple[str, str]]) -> str:
    venues = {venue for venue, _ in instruments}
    if len(instruments) == 1:
        return "{}:{}".format(*instruments[0])
    if len(venues) == 1:
        return f"{instruments[0][0]}: {len(instruments)} symbols"
    return f"{len(venues)} venues, {len(instruments)} instruments"


def format_span(ns: int) -> str:
    """Whole seconds, in the two largest units: 50s, 4m10s, 2h05m, 3d04h."""
    s = ns // 10**9
    for unit, size, sub, sub_size in (("d", 86400, "h", 3600), ("h", 3600, "m", 60)):
        if s >= size:
            return f"{s // size}{unit}{(s % size) // sub_size:02d}{sub}"
    return f"{s // 60}m{s % 60:02d}s" if s >= 60 else f"{s}s"
