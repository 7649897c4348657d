"""`mdc features`: feature vectors of one instrument at given instants, from the event store.

The stored events go through the same replay path as `mdc replay` into a FeatureTracker, the
object the live collector feeds; a vector at T uses what had been received by T (ts_recv <= T),
evaluated as of event time T.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from typing import TYPE_CHECKING, TextIO

from mdc.errors import CollectorError
from mdc.store.cliargs import add_data_dir, open_readonly

if TYPE_CHECKING:
    from mdc.events import Event
    from mdc.features import FeatureConfig, FeatureTracker
    from mdc.store import Store

MAX_QUERIES = 100_000


class UnknownInstrument(CollectorError):
    """No stored events for the requested venue and symbol."""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "features",
        help="print feature vectors (VWAP, flow, imbalance, spread, OFI, RV) from stored events",
        description=(
            "Replay the stored events of VENUE/SYMBOL through the streaming feature extractors "
            "and print the feature vector at TIME (--at), or every DURATION from T1 to T2 "
            "inclusive. Replay starts one warm-up (default: the widest configured window) "
            "before the first instant, from the nearest book checkpoint, so windows are "
            "complete where the store has the data; incomplete windows print null. "
            "TIME: RFC 3339, a date (UTC midnight) or integer ns. DURATION: 30s, 5m, 1h, 1d."
        ),
    )
    add_data_dir(parser)
    parser.add_argument("--venue", required=True)
    parser.add_argument("--symbol", required=True)
    parser.add_argument("--at", metavar="TIME", help="one instant")
    parser.add_argument("--from", dest="start", metavar="T1", help="first instant")
    parser.add_argument("--to", dest="end", metavar="T2", help="last instant (inclusive)")
    parser.add_argument("--every", metavar="DURATION", help="step between instants")
    parser.add_argument(
        "--config",
        metavar="FILE",
        help="feature list, TOML ([[features]]) or YAML (features:); default: all 51 features",
    )
    parser.add_argument("--warmup", metavar="DURATION", help="replay this long before T1")
    parser.add_argument(
        "--format",
        choices=("json", "table"),
        default="json",
        help="json: one object per instant (default); table: one 'name value' row per feature",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from mdc.features import FeatureConfig, FeatureTracker, load_feature_config
    from mdc.features.config import parse_duration_ns
    from mdc.store.replay import replay

    times = _query_times(args)
    config = load_feature_config(args.config) if args.config else FeatureConfig.default()
    warmup = parse_duration_ns(args.warmup, "--warmup") if args.warmup else _widest_window(config)
    out = sys.stdout
    with open_readonly(args) as store:
        first_stored = _first_ts_recv(store, args.venue, args.symbol)
        start, seeds = _replay_start(store, args.venue, args.symbol, times[0] - warmup)
        tracker = FeatureTracker(config, observed_from_ns=max(start, first_stored))
        consumer = _Sampler(
            tracker, args.venue, args.symbol, times, config=config, fmt=args.format, out=out
        )
        events = store.iter_events(start, times[-1] + 1, args.venue, args.symbol)
        replay(_chain(seeds, events), consumer)
        consumer.finish()
    out.flush()
    return 0


def _query_times(args: argparse.Namespace) -> list[int]:
    from mdc.features.config import parse_duration_ns
    from mdc.store.replay import BadArgument, parse_time

    ranged = (args.start, args.end, args.every)
    if args.at is not None:
        if any(v is not None for v in ranged):
            raise BadArgument("use either --at TIME or --from T1 --to T2 --every DURATION")
        return [parse_time(args.at)]
    if any(v is None for v in ranged):
        raise BadArgument("give --at TIME, or all of --from T1 --to T2 --every DURATION")
    start, end = parse_time(args.start), parse_time(args.end)
    step = parse_duration_ns(args.every, "--every")
    if end < start:
        raise BadArgument(f"--to ({args.end}) must not be before --from ({args.start})")
    if (end - start) // step + 1 > MAX_QUERIES:
        raise BadArgument(f"more than {MAX_QUERIES} instants: use a larger --every")
    return list(range(start, end + 1, step))


def _widest_window(config: FeatureConfig) -> int:
    return max((w for s in config.specs for w in s.windows_ns), default=0)


def _first_ts_recv(store: Store, venue: str, symbol: str) -> int:
    first = next(store.iter_events(None, None, venue, symbol), None)
    if first is None:
        raise UnknownInstrument(f"no events stored for {venue} {symbol}")
    return first.ts_recv


def _replay_start(store: Store, venue: str, symbol: str, wanted: int) -> tuple[int, list[Event]]:
    """Where to start reading, and the book checkpoint (as a snapshot) to start the book from."""
    from mdc.store.streams import Stream

    checkpoint = store.checkpoints.latest(Stream(venue, "book", symbol), wanted)
    if checkpoint is None:
        return wanted, []
    return min(wanted, checkpoint.max_ts_recv + 1), [checkpoint.snapshot]


def _chain(seeds: list[Event], events: Iterator[Event]) -> Iterator[Event]:
    yield from seeds
    yield from events


class _Sampler:
    """Feeds the tracker and prints the vector at each instant once everything received by
    then has been fed."""

    def __init__(
        self,
        tracker: FeatureTracker,
        venue: str,
        symbol: str,
        times: list[int],
        *,
        config: FeatureConfig,
        fmt: str,
        out: TextIO,
    ) -> None:
        self.tracker, self.venue, self.symbol = tracker, venue, symbol
        self.times, self.next = times, 0
        self.names, self.fmt, self.out = config.names, fmt, out

    def on_event(self, event: Event) -> None:
        while self.next < len(self.times) and event.ts_recv > self.times[self.next]:
            self._print(self.times[self.next])
            self.next += 1
        self.tracker.on_event(event)

    def finish(self) -> None:
        for t in self.times[self.next :]:
            self._print(t)
        self.next = len(self.times)

    def _print(self, t: int) -> None:
        from mdc.features import FeatureVector
        from mdc.timefmt import format_rfc3339_ns

        vector = self.tracker.vector(self.venue, self.symbol, t) or FeatureVector(
            self.venue, self.symbol, t, dict.fromkeys(self.names)
        )
        stamp = format_rfc3339_ns(t)
        if self.fmt == "json":
            record = {"venue": self.venue, "symbol": self.symbol, "t_ns": t, "time": stamp}
            self.out.write(json.dumps({**record, "features": vector.values}) + "\n")
            return
        width = max(map(len, self.names))
        lines = [f"{self.venue} {self.symbol} at {stamp}"]
        lines += [f"  {name:<{width}}  {_cell(value)}" for name, value in vector.values.items()]
        self.out.write("\n".join(lines) + "\n")


def _cell(value: float | int | None) -> str:
    return "null" if value is None else repr(value)
