"""Alpaca wire shapes (specs/exchanges.md section 4): stream items tagged by `T`, REST pages."""

from __future__ import annotations

from decimal import Decimal

import msgspec

CHANNELS = (
    "trades", "quotes", "bars", "dailyBars", "updatedBars", "statuses", "lulds", "corrections",
    "cancelErrors", "imbalances",
)  # fmt: skip

# -- stream -------------------------------------------------------------------------------------


class _Msg(msgspec.Struct, tag_field="T", gc=False):
    """Base of every stream item; the `T` tag picks the type in the same decoding pass."""


class _Success(_Msg, tag="success"):
    msg: str


class _Subscription(_Msg, tag="subscription"):
    trades: list[str] = []
    quotes: list[str] = []
    bars: list[str] = []
    dailyBars: list[str] = []
    updatedBars: list[str] = []
    statuses: list[str] = []
    lulds: list[str] = []
    corrections: list[str] = []
    cancelErrors: list[str] = []
    imbalances: list[str] = []


class _Error(_Msg, tag="error"):
    code: int
    msg: str


class _Trade(_Msg, tag="t"):
    S: str
    i: int
    x: str
    p: Decimal
    s: Decimal
    t: str
    c: tuple[str, ...] = ()
    z: str | None = None


class _Quote(_Msg, tag="q"):
    S: str
    bx: str
    bp: Decimal
    bs: Decimal
    ax: str
    ap: Decimal
    as_: Decimal = msgspec.field(name="as")
    t: str
    c: tuple[str, ...] = ()
    z: str | None = None


class _Bar(_Msg, tag="b"):
    S: str
    o: Decimal
    h: Decimal
    l: Decimal  # noqa: E741 - the wire name
    c: Decimal
    v: Decimal
    t: str
    n: int | None = None
    vw: Decimal | None = None


class _DailyBar(_Bar, tag="d"):
    pass


class _UpdatedBar(_Bar, tag="u"):
    pass


class _TradingStatus(_Msg, tag="s"):
    """Halts and resumptions; events.py has no event for them yet: checked, then dropped."""

    S: str
    sc: str
    sm: str
    rc: str
    rm: str
    t: str
    z: str | None = None


class _Luld(_Msg, tag="l"):
    S: str
    u: Decimal
    d: Decimal
    i: str
    t: str
    z: str | None = None


class _Correction(_Msg, tag="c"):
    """Trade `oi` replaced by `ci`; no contract event yet (see the module's report)."""

    S: str
    x: str
    oi: int
    op: Decimal
    os: Decimal
    ci: int
    cp: Decimal
    cs: Decimal
    t: str
    oc: tuple[str, ...] = ()
    cc: tuple[str, ...] = ()
    z: str | None = None


class _CancelError(_Msg, tag="x"):
    """Trade `i` cancelled (`a` "C") or in error ("E"); no contract event yet."""

    S: str
    i: int
    x: str
    p: Decimal
    s: Decimal
    a: str
    t: str
    z: str | None = None


_ITEM = (
    _Success | _Subscription | _Error | _Trade | _Quote | _Bar | _DailyBar | _UpdatedBar
    | _TradingStatus | _Luld | _Correction | _CancelError
)  # fmt: skip
_KNOWN_TAGS = frozenset(t.__struct_config__.tag for t in _ITEM.__args__)


class _Peek(msgspec.Struct, gc=False):
    T: str


# -- REST ---------------------------------------------------------------------------------------


class _RestTrade(msgspec.Struct, gc=False):
    t: str
    x: str
    p: Decimal
    s: Decimal
    i: int
    c: tuple[str, ...] = ()
    z: str | None = None


class _TradesPage(msgspec.Struct, gc=False):
    """`/v2/stocks/{symbol}/trades` (a list) or `/v2/stocks/trades` (a dict by symbol)."""

    trades: list[_RestTrade] | dict[str, list[_RestTrade]] | None
    symbol: str | None = None
    next_page_token: str | None = None
