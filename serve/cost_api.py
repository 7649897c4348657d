"""The cost view's shell: `GET /v1/cost`, and what feeds mdc/cost/ (the store's bytes on disk,
the collector's provider usage). `mdc cost` uses the same functions.

    GET /v1/cost?storage_gb_month=0.02&...   the report (mdc/cost `CostReport.as_dict`);
                                             each price overridable by its own name

Storage is read from the files themselves, so every byte on disk is counted once:
`wal/<venue+family+symbol>/<seq>.seg` per stream and event type (each WAL record is decoded down
to its events' tags and receive times: bytes of `book_snapshot` and `book_delta` apart, record
headers as `framing`); the projections per stream where their paths name one
(`parquet/<table>/date=/venue=/symbol=/`, `jsonl/<date>/<venue>/<symbol>/<family>.jsonl`,
`checkpoints/<venue+family+symbol>/`); anything else (DLQ, quarantine, status files) as `other`.
The storage span runs from the first to the last event receive time in the WAL, earlier when a
Parquet date partition is older than the WAL (retention removed its segments). Provider usage
comes from DATA_DIR/status.json, which the running collector rewrites every second.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Union
from urllib.parse import unquote

import msgspec
from fastapi import APIRouter, Depends, Request, Response

from actors.panel import STATUS_FILE, USAGE, read_status
from mdc.cost import BadPrice, CostInputs, ProviderUsage, StorageRow, UnitPrices, cost_report
from mdc.cost.model import DAY_NS, JSONL, OTHER, WAL
from mdc.events import EVENT_TYPES, TYPE_NAMES
from mdc.store import records
from mdc.store.damage import SEGMENT_SUFFIX
from mdc.store.streams import Stream
from serve.auth import KeyRing
from serve.jsonapi import ApiError, json_response, key_dependency

PARQUET_TABLES = {
    "trades": "trades",
    "quotes": "quotes",
    "book_deltas": "book",
    "venue_bars": "bars",
    "bars": "bars",
}
"""Parquet table directory -> stream family (mdc/store/parquet.py TABLES, bars.py `bars`)."""
PARTITION_KEYS = ("date", "venue", "symbol")

_STUBS = tuple(
    msgspec.defstruct(f"_{TYPE_NAMES[t]}", [("ts_recv", int)], tag_field="type", tag=TYPE_NAMES[t])
    for t in EVENT_TYPES
)
_TAGS = {stub: stub.__struct_config__.tag for stub in _STUBS}
_STUB_DECODER = msgspec.msgpack.Decoder(list[Union[_STUBS]])  # noqa: UP007 - a runtime tuple
"""A record's events reduced to their type and receive time (the rest is skipped, not built)."""


@dataclass(frozen=True, slots=True)
class SegmentTally:
    """One WAL segment: (bytes, events) per event type, and its first and last receive time."""

    types: Mapping[str, tuple[int, int]]
    first_ns: int | None
    last_ns: int | None


@dataclass
class SegmentCache:
    """Tallies by (path, size, mtime): a sealed segment never changes, so a dashboard that asks
    again reads only the segment being written. Bounded by the store: each walk keeps only the
    entries of the files it met."""

    tallies: dict[tuple[str, int, int], SegmentTally] = field(default_factory=dict)

    def tally(self, path: str) -> SegmentTally:
        st = os.stat(path)
        key = (path, st.st_size, st.st_mtime_ns)
        if key not in self.tallies:
            self.tallies[key] = tally_segment(path)
        return self.tallies[key]

    def keep_only(self, paths: set[str]) -> None:
        self.tallies = {k: v for k, v in self.tallies.items() if k[0] in paths}


def tally_segment(path: str) -> SegmentTally:
    """Every byte of a segment by event type: each event's own encoding, `framing` for the
    record headers, `unreadable` for damaged or torn bytes, `undecodable` for a valid record
    of events this version does not know."""
    types: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    first = last = None
    with open(path, "rb") as f:
        for item in records.walk(f):
            if isinstance(item, records.Unreadable):
                types["unreadable"][0] += item.end - item.start
                continue
            size = records.HEADER.size + len(item.payload)
            try:
                raws = records.RAW_DECODER.decode(item.payload)
                stubs = _STUB_DECODER.decode(item.payload)
            except msgspec.DecodeError:
                types["undecodable"][0] += size
                continue
            types["framing"][0] += size - sum(len(raw) for raw in raws)
            for raw, stub in zip(raws, stubs, strict=True):
                line = types[_TAGS[type(stub)]]
                line[0] += len(raw)
                line[1] += 1
            if stubs:
                low, high = min(s.ts_recv for s in stubs), max(s.ts_recv for s in stubs)
                first = low if first is None else min(first, low)
                last = high if last is None else max(last, high)
    return SegmentTally({t: (b, e) for t, (b, e) in types.items()}, first, last)


@dataclass
class StoreBytes:
    """What `walk_store` found: rows (mdc.cost StorageRow) and the stored events' span."""

    rows: list[StorageRow] = field(default_factory=list)
    first_ns: int | None = None
    last_ns: int | None = None
    parquet_days: set[int] = field(default_factory=set)
    """Midnight (ns) of each Parquet date partition."""

    @property
    def span_ns(self) -> int:
        """First to last receive time in the WAL. Parquet partitions of days before the WAL's
        first (retention removed their segments) move the start to the oldest one's midnight;
        with no WAL left, the span covers the Parquet days whole."""
        days = sorted(self.parquet_days)
        first, last = self.first_ns, self.last_ns
        if days and (first is None or days[0] + DAY_NS <= first):
            first = days[0]
        if days and last is None:
            last = days[-1] + DAY_NS
        return 0 if first is None or last is None else last - first

    def add(self, row: StorageRow) -> None:
        self.rows.append(row)

    def add_tally(self, stream: Stream, tally: SegmentTally) -> None:
        for kind, (nbytes, events) in tally.types.items():
            self.add(
                StorageRow(stream.venue, stream.family, stream.symbol, kind, WAL, nbytes, events)
            )
        self.first_ns = _either(min, self.first_ns, tally.first_ns)
        self.last_ns = _either(max, self.last_ns, tally.last_ns)


def _either(pick: Callable[[int, int], int], a: int | None, b: int | None) -> int | None:
    """`pick` of the two, or the one that is not None."""
    return b if a is None else a if b is None else pick(a, b)


def _midnight_ns(date: str) -> int:
    day = datetime.strptime(date, "%Y-%m-%d").replace(tzinfo=UTC)
    return int(day.timestamp()) * 10**9


def walk_store(data_dir: str, cache: SegmentCache | None = None) -> StoreBytes:
    """Every file under `data_dir`, as rows of bytes by stream, tier and type (see the module
    docstring); a file removed while walking (retention) is skipped."""
    cache = cache if cache is not None else SegmentCache()
    found = StoreBytes()
    segments: set[str] = set()
    for path, parts in _files(data_dir):
        with contextlib.suppress(FileNotFoundError):
            if parts[0] == WAL and len(parts) == 3 and parts[2].endswith(SEGMENT_SUFFIX):
                stream = _stream(parts[1])
                if stream is not None:
                    found.add_tally(stream, cache.tally(path))
                    segments.add(path)
                    continue
            found.add(_row(parts, os.path.getsize(path), found))
    cache.keep_only(segments)
    found.rows = _merged(found.rows)
    return found


def _files(data_dir: str) -> Iterator[tuple[str, list[str]]]:
    for root, dirs, names in os.walk(data_dir):
        dirs.sort()
        for name in sorted(names):
            path = os.path.join(root, name)
            yield path, os.path.relpath(path, data_dir).split(os.sep)


def _stream(dirname: str) -> Stream | None:
    try:
        return Stream.from_dirname(dirname)
    except ValueError:
        return None


def _row(parts: list[str], nbytes: int, found: StoreBytes) -> StorageRow:
    """A file other than a WAL segment: a projection's, attributed to its stream when its path
    names one, else `other` (typed by its top directory or its own name)."""
    top = parts[0]
    if top == "parquet" and len(parts) == 6 and parts[1] in PARQUET_TABLES:
        keyed = zip(parts[2:5], PARTITION_KEYS, strict=True)
        date, venue, symbol = (_partition(p, k) for p, k in keyed)
        if date is not None and venue is not None and symbol is not None:
            with contextlib.suppress(ValueError):  # a date not a date: its bytes still count
                found.parquet_days.add(_midnight_ns(date))
            family = PARQUET_TABLES[parts[1]]
            return StorageRow(venue, family, symbol, "parquet", "parquet", nbytes)
    if top == JSONL and len(parts) == 5 and parts[4].endswith(".jsonl"):
        symbol = "" if parts[3] == "_" else unquote(parts[3])
        family = parts[4].removesuffix(".jsonl")
        return StorageRow(unquote(parts[2]), family, symbol, JSONL, JSONL, nbytes)
    if top in ("checkpoints", WAL) and len(parts) == 3 and (stream := _stream(parts[1])):
        return StorageRow(stream.venue, stream.family, stream.symbol, top, top, nbytes)
    return StorageRow("", "", "", top, OTHER, nbytes)


def _partition(part: str, key: str) -> str | None:
    """`date=2024-01-02` -> `2024-01-02` for key `date`; None for another name."""
    name, sep, value = part.partition("=")
    return unquote(value) if sep and name == key else None


def _merged(rows: list[StorageRow]) -> list[StorageRow]:
    """One row per (venue, family, symbol, type, tier): a stream has many files."""
    sums: dict[tuple[str, ...], list[int]] = defaultdict(lambda: [0, 0])
    for r in rows:
        line = sums[(r.venue, r.family, r.symbol, r.type, r.tier)]
        line[0] += r.bytes
        line[1] += r.events
    return [StorageRow(*key, nbytes, events) for key, (nbytes, events) in sorted(sums.items())]


@dataclass(frozen=True, slots=True)
class Usage:
    """Provider usage from the collector's status.json, and the span it covers."""

    providers: tuple[ProviderUsage, ...] = ()
    span_ns: int = 0
    notes: tuple[str, ...] = ()


NO_STATUS = (
    f"no {STATUS_FILE} in the data dir: provider usage unknown (`mdc run` writes it while it "
    "collects into this data dir)"
)
NO_USAGE = (
    f"{STATUS_FILE} carries no provider usage (written by `mdc run --local`, or by a collector "
    "older than the cost view)"
)


def read_usage(data_dir: str) -> Usage:
    """The running (or last) collector's usage totals; a missing or unreadable status is a
    note, not an error: the storage half of the report stands on its own."""
    try:
        status = read_status(data_dir)
    except FileNotFoundError:
        return Usage(notes=(NO_STATUS,))
    except (OSError, ValueError) as exc:
        return Usage(notes=(f"{STATUS_FILE} unreadable ({exc}): provider usage unknown",))
    usage = status.get(USAGE) if isinstance(status, dict) else None
    if not isinstance(usage, dict) or not isinstance(usage.get("providers"), dict):
        return Usage(notes=(NO_USAGE,))
    since, written = usage.get("since_ns"), status.get("written_ns")
    span = written - since if isinstance(since, int) and isinstance(written, int) else 0
    providers = tuple(
        ProviderUsage.of(str(venue), row)
        for venue, row in sorted(usage["providers"].items())
        if isinstance(row, dict)
    )
    return Usage(providers, max(span, 0))


def cost_inputs(data_dir: str, cache: SegmentCache | None = None) -> CostInputs:
    """Everything the cost model needs from a data dir (blocking file I/O: run it off the event
    loop)."""
    store = walk_store(data_dir, cache)
    usage = read_usage(data_dir)
    return CostInputs(
        storage=tuple(store.rows),
        storage_span_ns=store.span_ns,
        usage=usage.providers,
        usage_span_ns=usage.span_ns,
        notes=usage.notes,
    )


def cost_router(store_dir: str | None, keys: KeyRing) -> APIRouter:
    """`GET /v1/cost` over the data dir `store_dir` (None: answered 404), behind `keys`."""
    router = APIRouter(dependencies=[Depends(key_dependency(keys))])
    cache = SegmentCache()
    walking = asyncio.Lock()  # one walk at a time: they share the cache, and the disk

    @router.get("/v1/cost")
    async def cost(request: Request) -> Response:
        try:  # an unknown parameter is refused too: a mistyped price must not go unnoticed
            prices = UnitPrices.parse(_single(request.query_params.multi_items()))
        except BadPrice as exc:
            raise ApiError(400, str(exc), exc.field) from None
        if store_dir is None or not os.path.isdir(store_dir):
            raise ApiError(404, "no data dir: the API was started without one (--data-dir)")
        async with walking:
            inputs = await asyncio.to_thread(cost_inputs, store_dir, cache)
        return json_response(cost_report(inputs, prices).as_dict())

    return router


def _single(items: list[tuple[str, str]]) -> dict[str, str]:
    """Query parameters, each given once (a repeated one is ambiguous: refused)."""
    seen: dict[str, str] = {}
    for name, value in items:
        if name in seen:
            raise BadPrice(name, "given more than once")
        seen[name] = value
    return seen
