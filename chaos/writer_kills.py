"""SIGKILL a real store writer at seeded random instants, many times, and check after each kill
that no acknowledged event is lost or doubled and no unacknowledged one is half there.

Soak (not in CI; about 0.7 s per kill on 2 busy cores, mostly writer start-up and import):

    .venv/bin/python -m chaos.writer_kills --kills 1000 [--seed N] [--dir DIR] [--check-every K]

It prints a progress line every 50 kills and a summary line; exit 1 (with the reason) if a check
failed. `tests/integration/test_store_sigkill.py` runs the same loop with 50 kills.

The writer appends two-symbol trade batches as fast as `Store.append` returns and prints each
batch's id range once it is durable; it is restarted from the last acknowledged id, as a producer
would resend, so an unacknowledged batch that did reach the disk must collapse by dedup. After
each kill only what the last run added is read (linear in the events); every `check_every` kills
and at the end the whole store is read again from scratch.
"""

from __future__ import annotations

import argparse
import os
import random
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from mdc.errors import CollectorError
from mdc.events import Trade, identity
from mdc.store import Store
from mdc.store.streams import Stream
from mdc.store.synth import trades

SYMBOLS = ("BTC-USDT", "ETH-USDT")
MAX_BATCH = 8
"""Largest batch (ids per symbol): what may be stored beyond the acknowledged ids after a kill."""
KILL_WITHIN_S = 0.15
READY_TIMEOUT_S = 30.0
PROGRESS_EVERY = 50
REPO_ROOT = Path(__file__).resolve().parent.parent
_WRITER = "import sys; from chaos.writer_kills import write_until_killed as w; w(sys.argv[1:])"


class SoakFailed(CollectorError):
    """A check failed: the store lost, doubled or half-stored events, or the writer misbehaved."""


@dataclass(frozen=True, slots=True)
class SoakResult:
    kills: int
    acked: int
    """Events acknowledged (every symbol counted)."""
    stored: int
    torn: int
    """Kills after which recovery saw a torn tail (a record cut mid-write)."""
    seconds: float


@dataclass(slots=True)
class _Ledger:
    """What is verified so far, so each kill only reads what the last run added."""

    acked_high: int = 0
    """Trade ids 1..acked_high are acknowledged on every symbol."""
    high: dict[str, int] = field(default_factory=dict)
    """Per symbol, ids 1..high are stored, each once."""
    checked: dict[Stream, int] = field(default_factory=dict)
    """Per stream, the seqs below this are verified."""
    torn: int = 0


def write_until_killed(argv: list[str]) -> None:
    """The writer subprocess: append batches under load, print each durable id range."""
    data_dir, seed, next_id = argv[0], int(argv[1]), int(argv[2])
    rng = random.Random(seed)
    store = Store.open(data_dir, segment_bytes=256 * 1024, dedup_window=5000)
    print("ready", flush=True)
    while True:
        n = rng.randint(1, MAX_BATCH)
        store.append([e for s in SYMBOLS for e in trades(rng, n, symbol=s, first_id=next_id)])
        print(next_id, next_id + n - 1, flush=True)
        next_id += n


def run_kills(
    data_dir: str,
    *,
    kills: int,
    seed: int,
    budget_s: float | None = None,
    check_every: int = 50,
    progress: Callable[[SoakResult], None] | None = None,
) -> SoakResult:
    """Kill and restart the writer `kills` times (fewer if `budget_s` runs out), checking the
    store after each kill and all of it every `check_every` and at the end; raises SoakFailed
    on the first failed check."""
    rng, ledger, started, done = random.Random(seed), _Ledger(), time.monotonic(), 0
    try:
        while done < kills and (budget_s is None or time.monotonic() - started < budget_s):
            done += 1
            _kill_once(data_dir, rng, ledger)
            _check(data_dir, ledger, full=done % check_every == 0)
            if progress is not None:
                progress(_result(ledger, done, started))
        if done % check_every:
            _check(data_dir, ledger, full=True)
    except SoakFailed as exc:
        raise SoakFailed(f"kill {done}: {exc}") from exc
    return _result(ledger, done, started)


def _result(ledger: _Ledger, kills: int, started: float) -> SoakResult:
    return SoakResult(
        kills,
        ledger.acked_high * len(SYMBOLS),
        sum(ledger.high.values()),
        ledger.torn,
        time.monotonic() - started,
    )


def _kill_once(data_dir: str, rng: random.Random, ledger: _Ledger) -> None:
    """One writer life: start it, let it append for a random instant, SIGKILL it, take its acks."""
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            _WRITER,
            data_dir,
            str(rng.getrandbits(32)),
            str(ledger.acked_high + 1),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(),
    )
    ready = _ready(proc)
    if ready:
        time.sleep(rng.uniform(0.0, KILL_WITHIN_S))
    proc.kill()
    # Read to EOF ourselves: communicate() would skip what the text wrapper already buffered.
    out, err = proc.stdout.read(), proc.stderr.read()  # type: ignore[union-attr]
    proc.wait(timeout=10)
    if not ready or proc.returncode != -signal.SIGKILL:
        why = "exited by itself" if ready else f"not ready within {READY_TIMEOUT_S:.0f}s"
        raise SoakFailed(f"writer {why} ({proc.returncode}): {_last_line(err)}")
    ledger.acked_high = _acked_high(out, ledger.acked_high)


def _env() -> dict[str, str]:
    """The subprocess must import mdc and chaos from this checkout, wherever it is run from."""
    path = os.pathsep.join(p for p in (str(REPO_ROOT), os.environ.get("PYTHONPATH")) if p)
    return dict(os.environ, PYTHONPATH=path)


def _ready(proc: subprocess.Popen[str]) -> bool:
    ready, _, _ = select.select([proc.stdout], [], [], READY_TIMEOUT_S)
    return bool(ready) and proc.stdout.readline().strip() == "ready"  # type: ignore[union-attr]


def _last_line(text: str) -> str:
    return (text.strip().splitlines() or ["no output"])[-1]


def _acked_high(out: str, acked_high: int) -> int:
    """The new acknowledged high id; the ranges must follow on from the last one."""
    for line in out.splitlines():
        low, _, high = line.partition(" ")
        if not high:
            continue  # "ready"
        if int(low) != acked_high + 1:
            raise SoakFailed(f"writer acked {line!r} after id {acked_high}")
        acked_high = int(high)
    return acked_high


def _check(data_dir: str, ledger: _Ledger, *, full: bool) -> None:
    """Recover the store read-only (as the next writer will) and check what it holds."""
    with Store.open(data_dir, readonly=True) as store:
        if store.recovery.damage:
            raise SoakFailed(f"recovery found damage: {store.recovery.lines()[0]}")
        ledger.torn += bool(store.recovery.truncations)
        _extend(ledger.high, _trades(store, ledger.checked))
        ledger.checked = store.wal.positions()
        _check_acked(ledger)
        if full:
            _check_whole(store, ledger)


def _trades(store: Store, since: dict[Stream, int]) -> Iterator[Trade]:
    """Every stream's durable events from `since` on (all of them for a stream not in it)."""
    for stream in store.streams():
        for _, event in store.wal.read_events(stream, since.get(stream, 0)):
            if not isinstance(event, Trade):
                raise SoakFailed(f"a {type(event).__name__} in a trade-only store")
            yield event


def _extend(high: dict[str, int], stored: Iterable[Trade]) -> None:
    """Each symbol's ids must go on 1, 2, 3...: a hole is a lost record or a partial batch, a
    repeat is a doubled event."""
    for trade in stored:
        expected = high.get(trade.symbol, 0) + 1
        if trade.trade_id != expected:
            raise SoakFailed(f"{trade.symbol} trade {trade.trade_id} stored where {expected} due")
        high[trade.symbol] = expected


def _check_acked(ledger: _Ledger) -> None:
    """Contiguous from 1, so present up to the acknowledged high means every ack is there once;
    beyond it, at most the batch in flight at the kill."""
    for symbol in SYMBOLS:
        high = ledger.high.get(symbol, 0)
        if high < ledger.acked_high:
            raise SoakFailed(f"acknowledged {symbol} trades {high + 1}..{ledger.acked_high} lost")
        if high > ledger.acked_high + MAX_BATCH:
            raise SoakFailed(f"{symbol} stored up to {high}, acked only to {ledger.acked_high}")


def _check_whole(store: Store, ledger: _Ledger) -> None:
    """Read everything again from scratch: it must agree with the per-kill reads."""
    high: dict[str, int] = {}
    _extend(high, _unique(_trades(store, {})))
    if high != ledger.high:
        raise SoakFailed(f"whole store holds up to {high}, per-kill reads saw {ledger.high}")


def _unique(stored: Iterable[Trade]) -> Iterator[Trade]:
    seen: set[bytes] = set()
    for trade in stored:
        key = identity(trade)
        if key in seen:
            raise SoakFailed(f"{key.decode()} stored twice")
        seen.add(key)
        yield trade


def _describe(result: SoakResult) -> str:
    """One line under 80 columns, for the progress lines and the summary."""
    per_kill_ms = 1000 * result.seconds / max(result.kills, 1)
    return (
        f"{result.kills:>5} kills {result.acked:>9,} acked {result.stored:>9,} stored "
        f"{result.torn:>4} torn {result.seconds:>7.1f}s {per_kill_ms:>4.0f}ms/kill"
    )


def _print_progress(result: SoakResult) -> None:
    if result.kills % PROGRESS_EVERY == 0:
        print(f"    {_describe(result)}", flush=True)


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m chaos.writer_kills",
        description="SIGKILL a store writer under load, many times; no ack may be lost or doubled.",
    )
    parser.add_argument("--kills", type=int, required=True, help="how many kills")
    parser.add_argument("--seed", type=int, default=None, help="default: a fresh one, printed")
    parser.add_argument(
        "--dir", default=None, help="new or empty store directory, kept (default: a temp dir)"
    )
    parser.add_argument(
        "--check-every", type=int, default=50, help="read the whole store every K kills (50)"
    )
    args = parser.parse_args(argv)
    if args.kills < 1 or args.check_every < 1:
        parser.error("--kills and --check-every must be >= 1")
    if args.dir is not None and os.path.isdir(args.dir) and os.listdir(args.dir):
        parser.error(f"--dir {args.dir} is not empty")
    return args


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    seed = random.SystemRandom().getrandbits(32) if args.seed is None else args.seed
    data_dir = args.dir or tempfile.mkdtemp(prefix="mdc-writer-kills-")
    print(f"seed {seed}, whole-store check every {args.check_every} kills, {data_dir}", flush=True)
    try:
        result = run_kills(
            data_dir,
            kills=args.kills,
            seed=seed,
            check_every=args.check_every,
            progress=_print_progress,
        )
    except SoakFailed as exc:
        print(f"FAIL {exc} (store kept in {data_dir})", flush=True)
        return 1
    print(f"ok  {_describe(result)}", flush=True)
    if args.dir is None:
        shutil.rmtree(data_dir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
