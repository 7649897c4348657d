"""Exact timestamp conversions to int nanoseconds (datetime alone stops at microseconds)."""

from __future__ import annotations

import calendar
import re
from datetime import UTC, datetime

from mdc.errors import CollectorError

NS = 1_000_000_000
_RFC3339 = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:?\d{2})?$"
)


class BadTimestamp(CollectorError, ValueError):
    pass


def parse_rfc3339_ns(text: str) -> int:
    """'2021-02-22T15:51:45.335689322Z' -> ns since epoch; a missing zone means UTC."""
    m = _RFC3339.match(text)
    if m is None:
        raise BadTimestamp(f"not an RFC 3339 timestamp: {text!r}")
    year, month, day, hour, minute, second, frac, zone = m.groups()
    fields = (int(year), int(month), int(day), int(hour), int(minute), int(second))
    if not (
        1 <= fields[1] <= 12
        and 1 <= fields[2] <= 31
        and fields[3] < 24
        and fields[4] < 60
        and fields[5] <= 60
    ):
        raise BadTimestamp(f"field out of range in timestamp: {text!r}")
    seconds = calendar.timegm((*fields, 0, 0, 0))
    ns = seconds * NS + (int(frac.ljust(9, "0")) if frac else 0)
    if zone and zone != "Z":
        sign = 1 if zone[0] == "+" else -1
        digits = zone[1:].replace(":", "")
        ns -= sign * (int(digits[:2]) * 3600 + int(digits[2:]) * 60) * NS
    return ns


def format_rfc3339_ns(ns: int) -> str:
    """ns since epoch -> '2021-02-22T15:51:45.335689322Z' (always 9 fraction digits)."""
    seconds, frac = divmod(ns, NS)
    stamp = datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{stamp}.{frac:09d}Z"


def parse_decimal_seconds_ns(text: str) -> int:
    """'1582905486.493008' (Kraken v1, Unix seconds as decimal text) -> ns, exactly."""
    whole, _, frac = text.partition(".")
    if not whole.isdigit() or (frac and not frac.isdigit()) or len(frac) > 9:
        raise BadTimestamp(f"not decimal Unix seconds: {text!r}")
    return int(whole) * NS + int(frac.ljust(9, "0") or 0)
