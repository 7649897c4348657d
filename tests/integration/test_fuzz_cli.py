"""Generated recordings through the real commands, per venue: `mdc normalize`, `mdc ingest`, then
`mdc query`, each called in-process on one file of 10,000 messages: fixture messages as recorded,
mutated ones (hostile values, shifted ids and sequences, keys dropped, truncations, deep values)
and hostile ones (deep nesting, binary, bad receive times, a line over the length limit). Seeded,
so a failure replays.

Checked: no traceback; every line is accepted or reported on stderr with its number, the same
lines by both commands; the accepted lines alone give byte-identical `normalize` output (a refused
line leaves no trace) and the same store; every accepted trade, quote and bar is stored exactly
once; every query works, `select 1` included.
"""

from __future__ import annotations

import json
import os
import random
import re
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path

import msgspec
import pytest

from mdc import cli
from mdc.events import Bar, Quote, Trade, from_json, identity

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
MESSAGES = 10_000
SEED = 20261206
MTIME_NS = 1_700_000_000_000_000_000
TABLES = ("trades", "quotes", "book_deltas", "venue_bars", "bars")

_decode = msgspec.json.Decoder(float_hook=Decimal).decode
_encode = msgspec.json.Encoder(decimal_format="number").encode
_NUMBER = re.compile(rb"-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?")
_REPORTED = re.compile(r"^[^\n]*?:(\d+): (?!dropped: )(.*)$", re.MULTILINE)

HOSTILE_VALUES = (
    "NaN", "Infinity", "-Infinity", "sNaN", "1E+400", "-1", "0", "-0", "1e-19", "1_000", " 5 ",
    "0.0000000000000000001", "123456789012345678901", msgspec.Raw(b"1E+400"), msgspec.Raw(b"-5"),
    msgspec.Raw(b"0"), msgspec.Raw(b"1e-30"), msgspec.Raw(b"123456789012345678901234567890"),
    10**40, 2**63, 2**64, -1, 0, True, None, [], {}, "", "x", [[]],
)  # fmt: skip
HOSTILE_NUMBERS = (
    b"1E+400", b"-1", b"0", b"-0", b"1e-30", b"99999999999999999999999", b"9223372036854775808",
    b"0.1234567890123456789012", b"18446744073709551616", b"1" + b"0" * 40,
)  # fmt: skip
HOSTILE_TIMES = (b"99999999999999999999: ", b"-5: ", b"1e400: ", b"NaN: ", b"1.0000000001: ")


def fixture_messages(venue: str) -> list[bytes]:
    return [
        line.strip()
        for path in sorted((FIXTURES / venue).glob("*.jsonl"))
        for line in path.read_bytes().splitlines()
        if line.strip()
    ]


def _nodes(tree: object, path: tuple = ()) -> Iterator[tuple]:
    if path:
        yield path
    if not isinstance(tree, dict | list):
        return
    children = tree.items() if isinstance(tree, dict) else enumerate(tree)
    for key, child in children:
        yield from _nodes(child, (*path, key))


def _replace(rng: random.Random, message: bytes, value: Callable[[object], object]) -> bytes:
    tree = _decode(message)
    paths = list(_nodes(tree))
    if not paths:
        return message
    *parents, last = rng.choice(paths)
    node = tree
    for key in parents:
        node = node[key]
    node[last] = value(node[last])
    return _encode(tree)


def _hostile_value(rng: random.Random, message: bytes) -> bytes:
    return _replace(rng, message, lambda _: rng.choice(HOSTILE_VALUES))


def _shifted_int(rng: random.Random, message: bytes) -> bytes:
    """Ids and sequence numbers out of order: repeats, late ones, jumps."""
    tree = _decode(message)
    ints = [p for p in _nodes(tree) if type(_at(tree, p)) is int]
    if not ints:
        return message
    *parents, last = rng.choice(ints)
    node = _at(tree, tuple(parents))
    node[last] += rng.choice((-2, -1, 1, 2, 5000, -(10**6)))
    return _encode(tree)


def _at(tree: object, path: tuple) -> object:
    for key in path:
        tree = tree[key]
    return tree


def _number_text(rng: random.Random, message: bytes) -> bytes:
    """One number's text (JSON number, or digits inside a string) replaced."""
    spans = [m.span() for m in _NUMBER.finditer(message)]
    if not spans:
        return message
    start, end = rng.choice(spans)
    return message[:start] + rng.choice(HOSTILE_NUMBERS) + message[end:]


def _dropped_key(rng: random.Random, message: bytes) -> bytes:
    tree = _decode(message)
    dicts = [p for p in _nodes(tree) if isinstance(_at(tree, p), dict) and _at(tree, p)]
    node = _at(tree, rng.choice(dicts)) if dicts else tree
    if isinstance(node, dict) and node:
        del node[rng.choice(list(node))]
    return _encode(tree)


def _truncated(rng: random.Random, message: bytes) -> bytes:
    return message[: rng.randrange(1, len(message))]


def _deep_value(rng: random.Random, message: bytes) -> bytes:
    """Valid JSON, routed like the venue's own messages, with one value nested too deep."""
    n = rng.choice((2_000, 20_000))
    return _replace(rng, message, lambda _: msgspec.Raw(b"[" * n + b"]" * n))


MUTATIONS = (
    (_hostile_value, 5), (_shifted_int, 3), (_number_text, 4), (_dropped_key, 1),
    (_truncated, 1), (_deep_value, 1),
)  # fmt: skip


def hostile(rng: random.Random) -> bytes:
    n = rng.choice((1_000, 100_000))
    noise = bytes(b for b in rng.randbytes(64) if b not in b"\r\n")
    return rng.choice(
        (b"[" * n, b'{"a":' * n, b"[" * n + b"]" * n, noise, b"null", b"{}", b"[]", b"1e400")
    )


def recording(venue: str, rng: random.Random) -> list[bytes]:
    valid = fixture_messages(venue)
    mutations, weights = zip(*MUTATIONS, strict=True)
    lines = [b'{"x":"' + b"a" * (1 << 20) + b'"}']  # over the default --max-line-bytes
    while len(lines) < MESSAGES:
        roll, message = rng.random(), rng.choice(valid)
        if roll < 0.45:
            line = message
        elif roll < 0.93:
            line = rng.choices(mutations, weights)[0](rng, message)
        else:
            line = hostile(rng)
        if rng.random() < 0.2:
            prefix = b"%d.%06d: " % (
                rng.randrange(1_600_000_000, 1_800_000_000),
                rng.randrange(10**6),
            )
            line = (rng.choice(HOSTILE_TIMES) if rng.random() < 0.1 else prefix) + line
        lines.append(line)
    rng.shuffle(lines)
    return lines


def write(path: Path, lines: list[bytes]) -> str:
    path.write_bytes(b"\n".join(lines) + b"\n")
    os.utime(path, ns=(MTIME_NS, MTIME_NS))  # the stand-in receive time: the same for both files
    return str(path)


def mdc(capsysbinary, *argv: str) -> tuple[int, bytes, str]:
    code = cli.main(list(argv))
    out, err = capsysbinary.readouterr()
    return code, out, err.decode(errors="replace")


def reported(stderr: str) -> dict[int, str]:
    """Line number -> why the line was refused."""
    return {int(n): reason for n, reason in _REPORTED.findall(stderr)}


def query(capsysbinary, data: str, sql: str) -> list[dict]:
    code, out, err = mdc(capsysbinary, "query", "--data-dir", data, "--format", "json", sql)
    assert code == 0, err
    return [json.loads(row) for row in out.splitlines()]


def table_counts(capsysbinary, data: str) -> dict[str, int]:
    counts = {
        t: query(capsysbinary, data, f"select count(*) as n from {t}")[0]["n"] for t in TABLES
    }
    assert query(capsysbinary, data, "select 1 as one") == [{"one": 1}]
    return counts


def stored_once(events: list) -> dict[str, int]:
    """Rows the store should hold for these normalized events: each identity once."""
    seen: dict[bytes, object] = {}
    for event in events:
        if isinstance(event, Trade | Quote | Bar):
            seen.setdefault(identity(event), event)
    kinds = [type(e) for e in seen.values()]
    return {
        "trades": kinds.count(Trade),
        "quotes": kinds.count(Quote),
        "venue_bars": kinds.count(Bar),
    }


@pytest.mark.parametrize("venue", ["binance", "coinbase", "kraken", "alpaca"])
def test_generated_messages_are_stored_once_or_reported_by_line(venue, tmp_path, capsysbinary):
    lines = recording(venue, random.Random(f"{SEED}-{venue}"))
    everything = write(tmp_path / "all.jsonl", lines)

    code, normalized, err = mdc(capsysbinary, "normalize", "--venue", venue, everything)
    assert code == 1 and "Traceback" not in err
    refused = reported(err)
    assert 1_000 < len(refused) < MESSAGES - 3_000, len(refused)  # both kinds well represented
    accepted = write(tmp_path / "accepted.jsonl", [
        line for number, line in enumerate(lines, 1) if number not in refused
    ])  # fmt: skip
    code, alone, alone_err = mdc(capsysbinary, "normalize", "--venue", venue, accepted)
    assert code == 0, alone_err
    assert alone == normalized  # byte for byte: the refused lines left no trace

    data, data_alone = str(tmp_path / "store"), str(tmp_path / "store-alone")
    code, _, err = mdc(capsysbinary, "ingest", "--venue", venue, "--data-dir", data, everything)
    assert code == 1 and "Traceback" not in err
    # The same lines for the same reasons; a session refuses a few more (Alpaca: authenticated
    # after a permanent error), and ingest reads each message without one.
    ingested = reported(err)
    assert ingested.items() <= refused.items()
    assert all("session" in refused[n] for n in refused.keys() - ingested.keys())
    code, _, err = mdc(capsysbinary, "ingest", "--venue", venue, "--data-dir", data_alone, accepted)
    assert code == 0, err

    counts = table_counts(capsysbinary, data)
    assert counts == table_counts(capsysbinary, data_alone)
    events = [from_json(line) for line in normalized.splitlines()]
    assert {t: counts[t] for t in ("trades", "quotes", "venue_bars")} == stored_once(events)
