"""Which REST answers a retry can fix, decided in the sans-I/O session from the status alone, and
how a session fails for good (bytes in, events out; no network)."""

import pytest

from mdc.errors import IllegalTransition, VenueRejected, is_retryable
from mdc.events import Status
from mdc.venues.base import HttpGet, Phase, Session, SessionConfig
from mdc.venues.binance import Binance

VENUE = Binance()  # one venue object, as one connection has

SNAPSHOT = HttpGet("snapshot", "BTC-USDT", "/api/v3/depth")


def session() -> Session:
    return Session(VENUE, SessionConfig(symbols=("BTC-USDT",)))


@pytest.mark.parametrize(
    ("status", "fix"),
    [(401, "API key and secret"), (403, "API key is valid"), (404, "rest_url")],
)
def test_rest_answers_no_retry_can_fix_are_permanent_and_say_what_to_fix(status, fix):
    with pytest.raises(VenueRejected) as info:
        session().http_response(SNAPSHOT, status, b'{"code":-2015,"msg":"Invalid API-key"}', 1)
    assert not is_retryable(info.value)
    assert f"(code {status})" in str(info.value) and fix in str(info.value)


@pytest.mark.parametrize("status", [408, 418, 429, 500, 502, 503])
def test_other_rest_errors_are_retried(status):
    with pytest.raises(VenueRejected) as info:
        session().http_response(SNAPSHOT, status, b"busy", 1)
    assert is_retryable(info.value) and "fix:" not in str(info.value)


def test_a_failed_session_keeps_the_error_and_says_why_in_a_status_event():
    s = session()
    s.connected(0)
    error = IllegalTransition("test", "a", "b")
    (status,) = s.fail(error, 5)
    assert isinstance(status, Status) and status.state == "failed"
    assert status.detail == str(error) and status.ts_event == 5
    assert s.failure is error and s.phase is Phase.FAILED


def test_a_restarted_keeper_marks_every_book_before_any_new_event():
    """A provider killed mid-stream records no disconnect; its successor's deltas may come
    before its snapshot, so the stored book stream needs the Gap first (found by the cluster
    failover test: a stored delta broke the book with no recorded gap)."""
    from mdc.venues.alpaca import Alpaca

    config = SessionConfig(symbols=("BTC-USDT", "ETH-USDT"))
    gaps = Session(VENUE, config, track_books=False).restarted(5)
    assert [(g.symbol, g.stream, g.ts_recv) for g in gaps] == [
        ("BTC-USDT", "book", 5),
        ("ETH-USDT", "book", 5),
    ]
    assert Session(Alpaca(), SessionConfig(symbols=("AAPL",))).restarted(5) == []
