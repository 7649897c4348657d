"""Parse benchmark: mdc decode and full session path vs orjson.loads and vs cryptofeed, offline.

One seeded market model (a 100-level price grid per side, depth updates of 6 levels, trades at the
touch) is encoded in each venue's wire format; every measurement is a ratio taken in the same
round against a baseline on the same messages, rounds interleaved, medians reported.

    python benchmarks/parse.py            # about 2-3 minutes
    python benchmarks/parse.py --quick    # about 20 s smoke run
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import importlib
import pstats
import random
import statistics
import sys
import time
import zlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal

import orjson

TS_NS = 1_700_000_000_000_000_000
GRID = 100  # price slots per side; no venue subscription depth below it, so nothing is truncated
MID = 300_000  # price in ticks of 0.1


@dataclass(frozen=True)
class Snap:
    bids: list[tuple[int, int]]  # (price ticks of 0.1, size in 1e-8 units), best first
    asks: list[tuple[int, int]]
    update_id: int
    ts_ms: int


@dataclass(frozen=True)
class Depth:
    bids: list[tuple[int, int]]  # size 0 removes
    asks: list[tuple[int, int]]
    first_id: int
    last_id: int
    ts_ms: int
    after: Snap  # the whole book after this update (checksums, quotes, final check)


@dataclass(frozen=True)
class Print:
    trade_id: int
    price: int
    size: int
    buy: bool  # aggressor side
    ts_ms: int


class Market:
    """Seeded order flow: levels near the touch change most; bids and asks never cross."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.book = {
            side: {i: self._size() for i in range(GRID) if self.rng.random() < 0.8}
            for side in ("bids", "asks")
        }
        self.update_id = 1_000_000
        self.trade_id = 5_000_000
        self.ts_ms = 1_700_000_000_000

    def snapshot(self) -> Snap:
        def side(name: str, sign: int) -> list[tuple[int, int]]:
            return [(MID + sign * (i + 1), s) for i, s in sorted(self.book[name].items())]

        return Snap(side("bids", -1), side("asks", 1), self.update_id, self.ts_ms)

    def stream(self, n: int, trade_share: float = 0.5) -> list[Depth | Print]:
        """Starts with a depth update (Binance syncs its REST snapshot on the first one)."""
        out: list[Depth | Print] = [self._depth()]
        while len(out) < n:
            out.append(self._print() if self.rng.random() < trade_share else self._depth())
        return out

    def _size(self) -> int:
        return self.rng.randint(100_000, 500_000_000)

    def _changes(self, name: str, sign: int) -> list[tuple[int, int]]:
        book = self.book[name]
        slots = {min(int(self.rng.expovariate(1 / 8)), GRID - 1) for _ in range(3)}
        out = []
        for i in sorted(slots):
            remove = i in book and len(book) > 1 and self.rng.random() < 0.3
            size = 0 if remove else self._size()
            book.pop(i, None) if remove else book.__setitem__(i, size)
            out.append((MID + sign * (i + 1), size))
        return out

    def _depth(self) -> Depth:
        self.ts_ms += self.rng.randint(1, 40)
        bids, asks = self._changes("bids", -1), self._changes("asks", 1)
        first = self.update_id + 1
        self.update_id += self.rng.randint(len(bids) + len(asks), 12)
        return Depth(bids, asks, first, self.update_id, self.ts_ms, self.snapshot())

    def _print(self) -> Print:
        self.ts_ms += self.rng.randint(1, 40)
        self.trade_id += 1
        buy = self.rng.random() < 0.5
        best = min(self.book["asks" if buy else "bids"])
        price = MID + best + 1 if buy else MID - best - 1
        return Print(self.trade_id, price, self.rng.randint(10_000, 50_000_000), buy, self.ts_ms)


def text(units: int, exponent: int, places: int) -> str:
    """Exact decimal text of units * 10**-exponent with `places` decimals."""
    return f"{Decimal(units).scaleb(-exponent):.{places}f}"


def iso(ts_ms: int) -> str:
    return datetime.fromtimestamp(ts_ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def kraken_checksum(asks: list[tuple[str, str]], bids: list[tuple[str, str]]) -> int:
    """specs/exchanges.md 3.2, on the texts as sent."""
    digits = "".join(t.replace(".", "").lstrip("0") for lvl in asks[:10] + bids[:10] for t in lvl)
    return zlib.crc32(digits.encode()) & 0xFFFFFFFF


class Wire:
    """One venue wire format; `snapshot` returns None when the snapshot comes over REST."""

    price_places = 8
    size_places = 8

    def __init__(self, symbol: str) -> None:
        self.symbol = symbol
        self.sequence = 0

    def levels(self, rows: list[tuple[int, int]]) -> list[tuple[str, str]]:
        return [(text(p, 1, self.price_places), text(s, 8, self.size_places)) for p, s in rows]

    def encode(self, items: list[Snap | Depth | Print]) -> list[bytes]:
        kinds = {Snap: self.snapshot, Depth: self.depth, Print: self.trade}
        return [m for m in (kinds[type(i)](i) for i in items) if m is not None]

    def json(self, obj: object) -> bytes:
        return orjson.dumps(obj)

    def preamble(self) -> list[bytes]:
        return []

    def rest_snapshot(self, snap: Snap) -> bytes:
        return b""

    def snapshot(self, snap: Snap) -> bytes | None:
        raise NotImplementedError

    def depth(self, d: Depth) -> bytes:
        raise NotImplementedError

    def trade(self, t: Print) -> bytes:
        raise NotImplementedError


class BinanceWire(Wire):
    def rest_snapshot(self, snap: Snap) -> bytes:
        bids, asks = self.levels(snap.bids), self.levels(snap.asks)
        return self.json({"lastUpdateId": snap.update_id, "bids": bids, "asks": asks})

    def snapshot(self, snap: Snap) -> None:
        return None

    def frame(self, channel: str, data: dict) -> bytes:
        return self.json({"stream": f"{self.symbol.lower()}@{channel}", "data": data})

    def depth(self, d: Depth) -> bytes:
        data = {"e": "depthUpdate", "E": d.ts_ms, "s": self.symbol, "U": d.first_id}
        data |= {"u": d.last_id, "b": self.levels(d.bids), "a": self.levels(d.asks)}
        return self.frame("depth@100ms", data)

    def trade(self, t: Print) -> bytes:
        p, q = text(t.price, 1, 8), text(t.size, 8, 8)
        data = {"e": "aggTrade", "E": t.ts_ms + 1, "s": self.symbol, "a": t.trade_id, "p": p}
        data |= {"q": q, "f": t.trade_id * 2, "l": t.trade_id * 2, "T": t.ts_ms, "m": not t.buy}
        return self.frame("aggTrade", data | {"M": True})


class CoinbaseAdvancedWire(Wire):
    price_places = 2

    def envelope(self, channel: str, ts_ms: int, event: dict) -> bytes:
        self.sequence += 1
        env = {"channel": channel, "client_id": "", "timestamp": iso(ts_ms)}
        return self.json(env | {"sequence_num": self.sequence, "events": [event]})

    def book(self, kind: str, bids: list, asks: list, ts_ms: int) -> bytes:
        t = iso(ts_ms)
        rows = [("bid", p, s) for p, s in self.levels(bids)]
        rows += [("offer", p, s) for p, s in self.levels(asks)]
        updates = [{"side": sd, "event_time": t, "price_level": p, "new_quantity": q}
                   for sd, p, q in rows]  # fmt: skip
        event = {"type": kind, "product_id": self.symbol, "updates": updates}
        return self.envelope("l2_data", ts_ms, event)

    def snapshot(self, snap: Snap) -> bytes:
        return self.book("snapshot", snap.bids, snap.asks, snap.ts_ms)

    def depth(self, d: Depth) -> bytes:
        return self.book("update", d.bids, d.asks, d.ts_ms)

    def trade(self, t: Print) -> bytes:
        row = {"trade_id": str(t.trade_id), "product_id": self.symbol}
        row |= {"price": text(t.price, 1, 2), "size": text(t.size, 8, 8)}
        row |= {"side": "BUY" if t.buy else "SELL", "time": iso(t.ts_ms)}
        return self.envelope("market_trades", t.ts_ms, {"type": "update", "trades": [row]})


class KrakenV2Wire(Wire):
    """Prices and sizes are JSON numbers whose text keeps every digit, so built by hand."""

    price_places = 1

    def book(self, kind: str, bids: list, asks: list, after: Snap, ts_ms: int) -> bytes:
        def side(rows: list) -> str:
            return ",".join(f'{{"price":{p},"qty":{q}}}' for p, q in self.levels(rows))

        crc = kraken_checksum(self.levels(after.asks[:10]), self.levels(after.bids[:10]))
        return (
            f'{{"channel":"book","type":"{kind}","data":[{{"symbol":"{self.symbol}",'
            f'"bids":[{side(bids)}],"asks":[{side(asks)}],"checksum":{crc},'
            f'"timestamp":"{iso(ts_ms)}"}}]}}'
        ).encode()

    def snapshot(self, snap: Snap) -> bytes:
        return self.book("snapshot", snap.bids, snap.asks, snap, snap.ts_ms)

    def depth(self, d: Depth) -> bytes:
        return self.book("update", d.bids, d.asks, d.after, d.ts_ms)

    def trade(self, t: Print) -> bytes:
        return (
            f'{{"channel":"trade","type":"update","data":[{{"symbol":"{self.symbol}",'
            f'"side":"{"buy" if t.buy else "sell"}","price":{text(t.price, 1, 1)},'
            f'"qty":{text(t.size, 8, 8)},"ord_type":"market","trade_id":{t.trade_id},'
            f'"timestamp":"{iso(t.ts_ms)}"}}]}}'
        ).encode()


class KrakenV1Wire(Wire):
    price_places = 5

    def stamped(self, rows: list, ts_ms: int) -> list[list[str]]:
        return [[p, q, text(ts_ms * 1000, 6, 6)] for p, q in self.levels(rows)]

    def snapshot(self, snap: Snap) -> bytes:
        sides = {
            "as": self.stamped(snap.asks, snap.ts_ms),
            "bs": self.stamped(snap.bids, snap.ts_ms),
        }
        return self.json([336, sides, "book-100", self.symbol])

    def depth(self, d: Depth) -> bytes:
        parts = [{k: self.stamped(rows, d.ts_ms)} for k, rows in (("a", d.asks), ("b", d.bids))]
        crc = kraken_checksum(self.levels(d.after.asks[:10]), self.levels(d.after.bids[:10]))
        parts[-1]["c"] = str(crc)
        return self.json([336, *parts, "book-100", self.symbol])

    def trade(self, t: Print) -> bytes:
        row = [text(t.price, 1, 5), text(t.size, 8, 8), text(t.ts_ms * 1000, 6, 6)]
        return self.json([337, [[*row, "b" if t.buy else "s", "m", ""]], "trade", self.symbol])


class AlpacaWire(Wire):
    """Stocks: no book feed, so each depth update becomes the quote it leaves at the touch."""

    def preamble(self) -> list[bytes]:
        return [b'[{"T":"success","msg":"connected"}]', b'[{"T":"success","msg":"authenticated"}]']

    def snapshot(self, snap: Snap) -> None:
        return None

    def depth(self, d: Depth) -> bytes:
        (bp, bs), (ap, az) = d.after.bids[0], d.after.asks[0]
        quote = {"T": "q", "S": self.symbol, "bx": "V", "bp": "@BP", "bs": bs // 10**6 + 1}
        quote |= {"ax": "V", "ap": "@AP", "as": az // 10**6 + 1, "t": iso(d.ts_ms), "c": ["R"]}
        raw = self.json([quote | {"z": "C"}])
        return raw.replace(b'"@BP"', text(bp, 2, 2).encode()).replace(
            b'"@AP"', text(ap, 2, 2).encode()
        )

    def trade(self, t: Print) -> bytes:
        row = {"T": "t", "S": self.symbol, "i": t.trade_id, "x": "V", "p": "@P"}
        row |= {"s": t.size // 10**6 + 1, "c": ["@"], "z": "C", "t": iso(t.ts_ms)}
        return self.json([row]).replace(b'"@P"', text(t.price, 2, 2).encode())


# -- the venue table -------------------------------------------------------------------------


@dataclass(frozen=True)
class Cryptofeed:
    feed: str  # class name in cryptofeed.exchanges
    exchange_symbol: str
    wire: type[Wire]
    options: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Row:
    label: str
    module: str  # the venue's registered name
    symbol: str
    wire_symbol: str
    wire: type[Wire]
    config: dict = field(default_factory=dict)
    cryptofeed: Cryptofeed | None = None
    note: str = ""
    verify_checksums: bool = True
    """False only for the labelled like-for-like row: our book keeps checksums unverified."""


CRC_NOTE = (
    "mdc verifies the CRC32 after every update; cryptofeed (checksum_validation=True) checks it "
    "only when the message's first dict holds 'c', i.e. never for two-sided updates like these"
)
ROWS = (
    Row("binance", "binance", "BTC-USDT", "BTCUSDT", BinanceWire,
        {"channels": ("aggTrade", "depth@100ms")}, Cryptofeed("Binance", "BTCUSDT", BinanceWire),
        "aggTrade + depth@100ms, identical bytes both sides; snapshot over REST"),
    Row("coinbase", "coinbase", "BTC-USD", "BTC-USD", CoinbaseAdvancedWire, {},
        Cryptofeed("Coinbase", "BTC-USD", CoinbaseAdvancedWire),
        "Advanced Trade (l2_data + market_trades), identical bytes both sides; cryptofeed's "
        "snapshot handler keeps side 'ask' (AT sends 'offer'), so its book starts with no asks"),
    Row("kraken", "kraken", "BTC-USD", "BTC/USD", KrakenV2Wire, {"depth": 100},
        Cryptofeed("Kraken", "XBT/USD", KrakenV1Wire, {"checksum_validation": True}),
        "mdc: WS v2 (JSON numbers); cryptofeed: WS v1 strings, same market content; "
        + CRC_NOTE),
    Row("kraken-nocrc", "kraken", "BTC-USD", "BTC/USD", KrakenV2Wire, {"depth": 100},
        Cryptofeed("Kraken", "XBT/USD", KrakenV1Wire, {"checksum_validation": True}),
        "NOT our real path: the kraken row with mdc's checksum verification switched off (in "
        "the benchmark only), like-for-like with cryptofeed, which verifies none here",
        verify_checksums=False),
    Row("kraken-v1", "kraken", "BTC-USD", "XBT/USD", KrakenV1Wire, {},
        Cryptofeed("Kraken", "XBT/USD", KrakenV1Wire, {"checksum_validation": True}),
        "WS v1 book-100 + trade, identical bytes both sides; " + CRC_NOTE),
    Row("alpaca", "alpaca", "AAPL", "AAPL", AlpacaWire, {"key": "bench", "secret": "bench"},
        None, "trades + quotes (no book feed); cryptofeed has no Alpaca feed"),
)  # fmt: skip


@dataclass
class Case:
    """Everything one row needs, generated before any timing."""

    row: Row
    venue: object
    trades: list[bytes]  # trade messages only (measure 1)
    sync: list[bytes]  # untimed: handshake and the snapshot (or the first Binance delta)
    rest: bytes  # Binance REST snapshot body
    stream: list[bytes]  # timed: depth updates interleaved with trades
    final: Snap
    cf_sync: list[str] = field(default_factory=list)
    cf_rest: bytes = b""
    cf_stream: list[str] = field(default_factory=list)


def build_case(row: Row, venue: object, count: int, seed: int) -> Case:
    market = Market(seed)
    snap = market.snapshot()
    items = market.stream(count + 1)
    wire = row.wire(row.wire_symbol)
    head, stream = split_sync(wire, snap, items)
    trades = row.wire(row.wire_symbol).encode([i for i in items if isinstance(i, Print)])
    case = Case(row, venue, trades, head, wire.rest_snapshot(snap), stream, market.snapshot())
    if row.cryptofeed is not None:
        cf_wire = row.cryptofeed.wire(row.cryptofeed.exchange_symbol)
        cf_head, cf_stream = split_sync(cf_wire, snap, items)
        case.cf_sync = [m.decode() for m in cf_head]
        case.cf_stream = [m.decode() for m in cf_stream]
        case.cf_rest = cf_wire.rest_snapshot(snap)
    return case


def split_sync(wire: Wire, snap: Snap, items: list) -> tuple[list[bytes], list[bytes]]:
    """The untimed head (preamble and snapshot, or the first delta for REST snapshots) and the
    timed rest; both sides get the same split of the same content."""
    first = wire.snapshot(snap)
    messages = wire.encode(items)
    if first is None:
        return [*wire.preamble(), messages[0]], messages[1:]
    return [*wire.preamble(), first, messages[0]], messages[1:]


# -- measurements (each returns seconds for one pass) ----------------------------------------


def time_orjson(messages: list) -> float:
    loads = orjson.loads
    start = time.perf_counter()
    for m in messages:
        loads(m)
    return time.perf_counter() - start


def time_decode(case: Case) -> float:
    """Trade messages through `venue.decode`, as on a new connection: per-connection state is
    reset first (untimed), else Coinbase's sequence check drops every pass after the first as
    duplicates and only the first pass would build trades."""
    case.venue.on_open_messages(session_config(case))
    decode = case.venue.decode
    start = time.perf_counter()
    for m in case.trades:
        decode(m, TS_NS)
    return time.perf_counter() - start


def session_config(case: Case) -> object:
    base = importlib.import_module("mdc.venues.base")
    return base.SessionConfig(symbols=(case.row.symbol,), **case.row.config)


def synced_session(case: Case) -> object:
    base = importlib.import_module("mdc.venues.base")
    venue = type(case.venue)()  # a fresh adapter: some keep per-connection state
    session = base.Session(venue, session_config(case))
    session.connected(0)
    for m in case.sync:
        session.receive(m, TS_NS)
        for request in session.outbox():
            if isinstance(request, base.HttpGet) and request.purpose == "snapshot":
                session.http_response(request, 200, case.rest, TS_NS)
    if not case.row.verify_checksums:  # after the (untimed, verified) snapshot
        for sync in session.books.values():
            sync.rules = _Unverified(sync.rules)
    return session


class _Unverified:
    """Book rules that trust every checksum (the like-for-like row only)."""

    def __init__(self, rules: object) -> None:
        self.fit, self.depth = rules.fit, rules.depth
        self.snapshot_in_stream = rules.snapshot_in_stream

    def verify(self, book: object, delta: object) -> bool:
        return True


def time_session(case: Case) -> float:
    session = synced_session(case)
    receive = session.receive
    start = time.perf_counter()
    for m in case.stream:
        receive(m, TS_NS)
    elapsed = time.perf_counter() - start
    check_session(case, session)
    return elapsed


def check_session(case: Case, session: object) -> None:
    """The timed path must be the in-sync path, ending on the model's book."""
    sync = session.books.get(case.row.symbol)
    if sync is None:
        return
    want = {Decimal(p).scaleb(-1) for p, _ in case.final.bids}
    if not sync.in_sync or set(sync.book.bids) != want:
        raise SystemExit(f"{case.row.label}: mdc book out of sync after the stream")


class _StaticHttp:
    """Stands in for cryptofeed's HTTP connection: the REST snapshot without a network."""

    def __init__(self, body: bytes) -> None:
        self.body = body.decode()

    async def read(self, *args: object, **kwargs: object) -> str:
        return self.body


async def _count(obj: object, receipt_timestamp: float) -> None:
    return None


def cryptofeed_feed(case: Case) -> object:
    from cryptofeed import exchanges
    from cryptofeed.defines import L2_BOOK, TRADES
    from cryptofeed.symbols import Symbols

    spec = case.row.cryptofeed
    cls = getattr(exchanges, spec.feed)
    Symbols.set(cls.id, {case.row.symbol: spec.exchange_symbol}, {})
    feed = cls(
        symbols=[case.row.symbol],
        channels=[TRADES, L2_BOOK],
        callbacks={TRADES: _count, L2_BOOK: _count},
        **spec.options,
    )
    feed.http_conn = _StaticHttp(case.cf_rest)
    return feed


def time_cryptofeed(case: Case) -> float:
    feed = cryptofeed_feed(case)

    async def run() -> float:
        handler = feed.message_handler
        for m in case.cf_sync:
            await handler(m, None, 1.7e9)
        start = time.perf_counter()
        for m in case.cf_stream:
            await handler(m, None, 1.7e9)
        return time.perf_counter() - start

    return asyncio.run(run())


# -- rounds, table, profile ------------------------------------------------------------------


def rate(count: int, seconds: float) -> float:
    return count / seconds if seconds > 0 else float("inf")


def one_round(case: Case) -> dict[str, float]:
    """Baseline and contender alternate (A, B, A, B) so drift in machine load hits both."""
    out = {
        "orjson_trades": rate(len(case.trades), time_orjson(case.trades)),
        "decode": rate(len(case.trades), time_decode(case)),
        "orjson_stream": rate(len(case.stream), time_orjson(case.stream)),
        "session": rate(len(case.stream), time_session(case)),
    }
    if case.row.cryptofeed is not None:
        out["cryptofeed"] = rate(len(case.cf_stream), time_cryptofeed(case))
        out["session_again"] = rate(len(case.stream), time_session(case))
    out["decode_ratio"] = out["decode"] / out["orjson_trades"]
    out["session_ratio"] = out["session"] / out["orjson_stream"]
    if "cryptofeed" in out:
        mdc = (out["session"] + out["session_again"]) / 2
        out["vs_cryptofeed"] = mdc / out["cryptofeed"]
    return out


def medians(rounds: list[dict[str, float]]) -> dict[str, float]:
    return {key: statistics.median(r[key] for r in rounds) for key in rounds[0]}


def table(results: dict[str, dict[str, float]]) -> str:
    head = (
        "| venue | trade decode msg/s | decode / orjson.loads | full path msg/s "
        "| full path / orjson.loads | cryptofeed msg/s | mdc / cryptofeed |\n"
        "|---|---:|---:|---:|---:|---:|---:|"
    )
    lines = [head]
    for label, m in results.items():
        cf = f"{m['cryptofeed']:,.0f}" if "cryptofeed" in m else "n/a"
        vs = f"**{m['vs_cryptofeed']:.2f}x**" if "vs_cryptofeed" in m else "n/a"
        lines.append(
            f"| {label} | {m['decode']:,.0f} | {m['decode_ratio']:.2f} | {m['session']:,.0f} "
            f"| {m['session_ratio']:.2f} | {cf} | {vs} |"
        )
    return "\n".join(lines)


def profile(case: Case, top: int) -> None:
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(3):
        time_session(case)
    profiler.disable()
    print(f"\n### Profile: {case.row.label} full path (3 passes), top {top} by cumulative time\n")
    pstats.Stats(profiler, stream=sys.stdout).sort_stats("cumulative").print_stats(top)


def load_cases(rows: list[Row], count: int, seed: int) -> tuple[list[Case], list[str]]:
    from mdc.venues.registry import get_venue

    cases, skipped = [], []
    for row in rows:
        try:
            venue = get_venue(row.module)
        except Exception as exc:  # a venue still being written: skip it, say why
            skipped.append(f"{row.label}: venue {row.module!r} does not load ({exc!r})")
            continue
        cases.append(build_case(row, venue, count, seed))
    return cases, skipped


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="about 20 s smoke run")
    parser.add_argument("--messages", type=int, help="timed messages per venue (default 20000)")
    parser.add_argument("--rounds", type=int, help="interleaved rounds; medians (default 7)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--venues", help="comma-separated rows, e.g. binance,kraken")
    parser.add_argument("--profile", action="store_true", help="cProfile the slowest full path")
    parser.add_argument("--top", type=int, default=10, help="profile rows to print")
    args = parser.parse_args(argv)
    args.messages = args.messages or (3_000 if args.quick else 20_000)
    args.rounds = args.rounds or (3 if args.quick else 7)
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    wanted = set(args.venues.split(",")) if args.venues else {r.label for r in ROWS}
    cases, skipped = load_cases([r for r in ROWS if r.label in wanted], args.messages, args.seed)
    rounds: dict[str, list[dict[str, float]]] = {c.row.label: [] for c in cases}
    for _ in range(args.rounds):
        for case in cases:
            rounds[case.row.label].append(one_round(case))
    results = {label: medians(r) for label, r in rounds.items()}
    print(f"## parse\n\nCommand: `python benchmarks/parse.py {' '.join(sys.argv[1:])}`".rstrip())
    print(f"({args.messages} timed messages per venue, {args.rounds} rounds, medians; ", end="")
    print(f"Python {sys.version.split()[0]})\n")
    print(table(results) + "\n")
    print(
        "Timed: the stream after the book is synced (snapshot handling is untimed on both sides);"
    )
    print("ratios are per-round then median; mdc / cryptofeed is on msg/s.\n")
    for case in cases:
        print(f"- {case.row.label}: {case.row.note}")
    for line in skipped:
        print(f"- skipped {line}")
    if args.profile and cases:
        profile(min(cases, key=lambda c: results[c.row.label]["session"]), args.top)
    return 0


if __name__ == "__main__":
    sys.exit(main())
