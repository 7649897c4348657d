"""Seeded synthetic event streams for tests and benchmarks (exact decimals, realistic shapes)."""

from __future__ import annotations

import random
from decimal import Decimal

from mdc.events import BookDelta, BookSnapshot, Event, Gap, Level, Trade

_SIDES = ("buy", "sell")


def trades(
    rng: random.Random,
    n: int,
    *,
    venue: str = "binance",
    symbol: str = "BTC-USDT",
    start_ns: int = 1_700_000_000_000_000_000,
    step_ns: int = 1_000_000,
    first_id: int = 1,
) -> list[Trade]:
    """`n` trades with consecutive ids, a random-walk price in cents and sizes of 1e-4 steps."""
    out, cents, ts = [], 4_200_000, start_ns
    for i in range(n):
        cents = max(100, cents + rng.randint(-50, 50))
        ts += rng.randint(1, 2 * step_ns)
        price = Decimal(cents).scaleb(-2)
        size = Decimal(rng.randint(1, 50_000)).scaleb(-4)
        out.append(
            Trade(
                venue, symbol, ts, ts + 1_000, price, size, _SIDES[rng.getrandbits(1)], first_id + i
            )
        )
    return out


def _levels(rng: random.Random, mid: int, side: int, count: int) -> tuple[Level, ...]:
    return tuple(
        (Decimal(mid + side * (i + 1)).scaleb(-2), Decimal(rng.randint(1, 999)).scaleb(-3))
        for i in range(count)
    )


def book_stream(
    rng: random.Random,
    n: int,
    *,
    venue: str = "binance",
    symbol: str = "BTC-USDT",
    start_ns: int = 1_700_000_000_000_000_000,
    step_ns: int = 10_000_000,
    gap_every: int = 0,
) -> list[Event]:
    """A snapshot then `n` deltas with contiguous update ids (Binance U/u rules); with
    `gap_every`, every so many deltas a book Gap is recorded followed by a fresh snapshot."""
    mid, uid, ts = 4_200_000, 1000, start_ns
    out: list[Event] = [
        BookSnapshot(
            venue,
            symbol,
            ts,
            ts,
            _levels(rng, mid, -1, 20),
            _levels(rng, mid, 1, 20),
            update_id=uid,
        )
    ]
    for i in range(1, n + 1):
        ts += rng.randint(1, 2 * step_ns)
        if gap_every and i % gap_every == 0:
            out.append(Gap(venue, symbol, ts, ts, "book", "synthetic loss", from_id=uid + 1))
            uid += 5
            out.append(
                BookSnapshot(
                    venue,
                    symbol,
                    ts,
                    ts + 1,
                    _levels(rng, mid, -1, 20),
                    _levels(rng, mid, 1, 20),
                    update_id=uid,
                )
            )
            continue
        count = rng.randint(1, 3)
        bids = tuple(
            (Decimal(mid - rng.randint(1, 25)).scaleb(-2), Decimal(rng.randint(0, 999)).scaleb(-3))
            for _ in range(count)
        )
        asks = tuple(
            (Decimal(mid + rng.randint(1, 25)).scaleb(-2), Decimal(rng.randint(0, 999)).scaleb(-3))
            for _ in range(count)
        )
        out.append(BookDelta(venue, symbol, ts, ts + 1, bids, asks, uid + 1, uid + 2))
        uid += 2
    return out
