"""Alpaca stocks v2: real stream messages that third-party code pasted into comments (see
tests/fixtures/SOURCES.md, alpaca section), decoded through the venue and checked against values
worked out by hand from the raw text. Every day start below is derived in its comment from a
1 January midnight, so each expected nanosecond can be checked without running anything."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import msgspec
import pytest

from mdc.events import Bar, Event, Quote, Trade
from mdc.venues.alpaca import Alpaca
from mdc.venues.base import Authenticated, Subscribed

VENUE = Alpaca()  # one venue object, as one connection has

FIXTURES = Path(__file__).parent.parent / "fixtures" / "alpaca"
ATTRIBUTED = "captures_in_code_comments.jsonl"
UNATTRIBUTED = "captures_in_code_comments_unattributed.jsonl"
NEW_FILES = (ATTRIBUTED, UNATTRIBUTED)
RECV = 7
D = Decimal
S = 10**9

# Day starts (UTC midnight, seconds). Year starts: 2021-01-01 = 1609459200, 2023-01-01 =
# 1672531200, 2024-01-01 = 1704067200 (2024 is a leap year), 2025-01-01 = 1735689600.
OCT08_2021 = 1_609_459_200 + 280 * 86_400  # Jan..Sep = 273 days, + 7
JUL08_2021 = 1_609_459_200 + 188 * 86_400  # Jan..Jun = 181 days, + 7
JUN07_2023 = 1_672_531_200 + 157 * 86_400  # Jan..May = 151 days, + 6
JUL17_2023 = 1_672_531_200 + 197 * 86_400  # Jan..Jun = 181 days, + 16
DEC04_2023 = 1_672_531_200 + 337 * 86_400  # Jan..Nov = 334 days, + 3
MAR28_2024 = 1_704_067_200 + 87 * 86_400  # Jan + Feb(29) = 60 days, + 27
JUN03_2024 = 1_704_067_200 + 154 * 86_400  # Jan..May = 152 days, + 2
NOV19_2024 = 1_704_067_200 + 323 * 86_400  # Jan..Oct = 305 days, + 18
MAR17_2025 = 1_735_689_600 + 75 * 86_400  # Jan + Feb(28) = 59 days, + 16
OCT09_2025 = 1_735_689_600 + 281 * 86_400  # Jan..Sep = 273 days, + 8

# The 18 symbols of the recorded 2023 subscription ack, in the order the server listed them.
SUBSCRIBED_2023 = (
    "AAPL,AMD,AMZN,ARNC,ARVL,BBAI,BRDS,FFIE,LYG,MULN,NIO,PACW,PLUG,SKLZ,SOFI,T,TSLA,WBD"
)


def trade(  # noqa: PLR0917 - mirrors the wire item's fields
    sym: str, ts: int, price: str, size: str, tid: int, x: str, c: tuple[str, ...], z: str
) -> Trade:
    return Trade("alpaca", sym, ts, RECV, D(price), D(size), "unknown", tid, x, c, z)


def quote(sym: str, ts: int, bid: tuple[str, str, str], ask: tuple[str, str, str], z: str) -> Quote:
    """`bid`/`ask` are (price, size, exchange) exactly as written on the wire."""
    return Quote("alpaca", sym, ts, RECV, D(bid[0]), D(bid[1]), D(ask[0]), D(ask[1]), bid[2],
                 ask[2], ("R",), z)  # fmt: skip


def bar(sym: str, ts: int, ohlcv: tuple[str, ...], n: int, vw: str) -> Bar:
    o, h, low, c, v = (D(x) for x in ohlcv)
    return Bar("alpaca", sym, ts, RECV, o, h, low, c, v, 60, n, D(vw))


# fmt: off
HAND_CHECKED: list[tuple[tuple[str, int], list[object]]] = [
    # 15:13:03 = 54783 s; ".13396615" has 8 digits -> 133_966_150 ns
    ((ATTRIBUTED, 0), [trade("AAPL", (OCT08_2021 + 54_783) * S + 133_966_150, "143.42", "100",
                             2195, "V", ("@",), "C")]),
    # a bare object in the source; an integer bid "172" stays 172; 18:24:00 = 66240 s
    ((ATTRIBUTED, 1), [quote("BABA", (OCT09_2025 + 66_240) * S + 412_001_659,
                             ("172", "1", "V"), ("172.43", "2", "V"), "A")]),
    # delayed_sip minute bar; 14:02 = 50520 s
    ((ATTRIBUTED, 2), [bar("NBIS", (MAR17_2025 + 50_520) * S,
                           ("28.04", "28.13", "27.87", "27.87", "184101"), 756, "27.998943")]),
    # 2021 key order (T, i, S, ...); 17:18:28 = 62308 s; ".04582059" -> 045_820_590 ns
    ((UNATTRIBUTED, 0), [trade("TSLA", (JUL08_2021 + 62_308) * S + 45_820_590, "648.15", "15",
                               8207, "V", ("@", "I"), "C")]),
    # bare object; three fraction digits in the price are kept; 19:59:46 = 71986 s
    ((UNATTRIBUTED, 1), [trade("INTC", (JUN07_2023 + 71_986) * S + 576_771_867, "31.315", "200",
                               7595, "V", ("@",), "C")]),
    # the full 2023 ack: empty channels are left out of the detail, order is the server's
    ((UNATTRIBUTED, 2), [Subscribed(f"trades={SUBSCRIBED_2023}; bars={SUBSCRIBED_2023}; "
                                    f"corrections={SUBSCRIBED_2023}; "
                                    f"cancelErrors={SUBSCRIBED_2023}")]),
    # 15:21:55 = 55315 s
    ((UNATTRIBUTED, 3), [trade("TSLA", (JUL17_2023 + 55_315) * S + 787_214_158, "286.39", "100",
                               5471, "V", ("@",), "C")]),
    # SIP batch of three tape A prints, order kept; the CTA " " condition survives as is;
    # ".58563712" has 8 digits -> 585_637_120 ns
    ((UNATTRIBUTED, 4), [
        trade("T", (JUL17_2023 + 55_315) * S + 585_613_056, "13.77", "41", 54_191_554_971_494,
              "V", (" ", "I"), "A"),
        trade("T", (JUL17_2023 + 55_315) * S + 585_622_016, "13.77", "100", 54_191_554_971_509,
              "V", (" ",), "A"),
        trade("T", (JUL17_2023 + 55_315) * S + 585_637_120, "13.77", "59", 54_191_554_971_717,
              "V", (" ", "I"), "A"),
    ]),
    # 17:38:36 = 63516 s
    ((UNATTRIBUTED, 5), [trade("AAPL", (DEC04_2023 + 63_516) * S + 428_955_792, "188.57", "100",
                               6790, "V", ("@",), "C")]),
    ((UNATTRIBUTED, 6), [Authenticated()]),
    # one frame, three kinds; the bar's vwap (419.846565) is below its low (419.86): Alpaca
    # counts trades in volume/vwap that may not set the OHLC, and the value is kept as sent.
    # 16:58 = 61080 s; 16:59:00 = 61140 s; ".11462648" -> 114_626_480 ns
    ((UNATTRIBUTED, 7), [
        bar("MSFT", (MAR28_2024 + 61_080) * S, ("419.86", "419.86", "419.86", "419.86", "131"),
            3, "419.846565"),
        trade("AAPL", (MAR28_2024 + 61_140) * S + 114_612_043, "171.24", "100", 4617, "V",
              ("@",), "C"),
        quote("AAPL", (MAR28_2024 + 61_140) * S + 114_626_480, ("171.22", "2", "V"),
              ("171.24", "1", "V"), "C"),
    ]),
    # bare object written with a space after "{"; 18:13:56 = 65636 s
    ((UNATTRIBUTED, 8), [trade("AAPL", (MAR28_2024 + 65_636) * S + 149_020_008, "171.64", "6",
                               5674, "V", ("@", "I"), "C")]),
    # 18:42:11 = 67331 s; ".73120176" -> 731_201_760 ns; half-cent price kept
    ((UNATTRIBUTED, 9), [trade("AAPL", (MAR28_2024 + 67_331) * S + 731_201_760, "171.695",
                               "100", 6093, "V", ("@",), "C")]),
    # 13:33:33 = 48813 s; an integer ask "194"
    ((UNATTRIBUTED, 10), [quote("AAPL", (JUN03_2024 + 48_813) * S + 2_960_334,
                                ("192.9", "1", "V"), ("194", "14", "V"), "C")]),
    # bare object; 19:41 = 70860 s
    ((UNATTRIBUTED, 11), [bar("PLTR", (NOV19_2024 + 70_860) * S,
                              ("61.9", "61.92", "61.88", "61.88", "821"), 10, "61.901923")]),
]
# fmt: on


def _line(name: str, index: int) -> bytes:
    return (FIXTURES / name).read_bytes().splitlines()[index]


def _new_lines() -> list[tuple[str, int, bytes]]:
    return [
        (name, i, line)
        for name in NEW_FILES
        for i, line in enumerate((FIXTURES / name).read_bytes().splitlines())
    ]


def test_every_new_line_is_hand_checked() -> None:
    """No new fixture line escapes a hand-written expectation."""
    checked = {where for where, _ in HAND_CHECKED}
    assert checked == {(name, i) for name, i, _ in _new_lines()}
    assert len(checked) == 15


@pytest.mark.parametrize(("where", "expected"), HAND_CHECKED, ids=lambda v: str(v)[:40])
def test_decode_hand_checked(where: tuple[str, int], expected: list[object]) -> None:
    got = VENUE.decode(_line(*where), RECV)
    assert got == expected
    for event, want in zip(got, expected, strict=True):
        if isinstance(event, Event):  # Decimal == ignores trailing zeros; the encoding does not
            assert msgspec.json.encode(event) == msgspec.json.encode(want)


def test_exact_decimal_text_survives() -> None:
    """Prices keep every digit the wire sent (no float on the way)."""
    (aapl,) = VENUE.decode(_line(UNATTRIBUTED, 9), RECV)
    (intc,) = VENUE.decode(_line(UNATTRIBUTED, 1), RECV)
    (nbis,) = VENUE.decode(_line(ATTRIBUTED, 2), RECV)
    assert (str(aapl.price), str(intc.price), str(nbis.vwap)) == ("171.695", "31.315", "27.998943")


def test_bare_and_wrapped_forms_decode_alike() -> None:
    """The sources print some items bare; the wire wraps them in an array: same events."""
    for name, i, line in _new_lines():
        if line.lstrip().startswith(b"{"):
            assert VENUE.decode(line, RECV) == VENUE.decode(b"[" + line + b"]", RECV), (name, i)


def test_unknown_type_next_to_real_items_is_skipped() -> None:
    """A documented type the contract does not carry (an imbalance, docs_examples_newer_page
    line 5) batched before a real trade: the trade comes through, the imbalance is dropped."""
    imbalance = (FIXTURES / "docs_examples_newer_page.jsonl").read_bytes().splitlines()[4]
    frame = b"[" + imbalance + b"," + _line(UNATTRIBUTED, 0)[1:]
    assert VENUE.decode(frame, RECV) == HAND_CHECKED[3][1]


def test_alpaca_fixture_total_reaches_fifty() -> None:
    """Issue 3 asks for at least 50 real messages per venue (websocket frames, every file)."""
    frames = [
        line
        for f in FIXTURES.glob("*.jsonl")
        for line in f.read_bytes().splitlines()
        if line.strip()
    ]
    assert len(frames) >= 50
    for line in frames:
        VENUE.decode(line, RECV)  # raises MalformedMessage on any line it cannot read
