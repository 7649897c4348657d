"""Silences in their shared append-only file: added, listed, expired, noticed by a cheap stat,
and a torn last line skipped rather than fatal."""

import pytest

from mdc.alerts.silences import BadSilence, SilenceFile

S = 10**9


def test_a_silence_is_added_found_and_expired(tmp_path):
    store = SilenceFile.of(str(tmp_path))
    assert store.load() == {} and store.changed() is False
    added = store.add(["alertname=data_gap", "venue=~kraken|binance"], 0, 3600 * S, "ops", "maint")
    assert store.changed()
    loaded = SilenceFile.of(str(tmp_path)).load()
    assert list(loaded) == [added.id] and loaded[added.id] == added
    assert added.mutes({"alertname": "data_gap", "venue": "kraken"}, 10 * S)
    assert not added.mutes({"alertname": "data_gap", "venue": "alpaca"}, 10 * S)
    store.expire(added.id, 20 * S)
    ended = store.load()[added.id]
    assert ended.ends_at_ns == 20 * S and not ended.mutes({"alertname": "data_gap"}, 21 * S)
    with pytest.raises(BadSilence, match="already ended"):
        store.expire(added.id, 30 * S)


def test_a_torn_line_is_skipped_and_counted(tmp_path):
    store = SilenceFile.of(str(tmp_path))
    kept = store.add(["alertname=x"], 0, S, "", "")
    with open(store.path, "ab") as f:
        f.write(b'{"id": "half')
    assert list(store.load()) == [kept.id] and store.bad_lines == 1


@pytest.mark.parametrize(
    ("matchers", "ends", "expected"),
    [
        ([], S, "needs at least one matcher"),
        (["alertname"], S, "bad matcher 'alertname'"),
        (["alertname=x"], 0, "must end after it starts"),
    ],
)
def test_a_bad_silence_says_why(tmp_path, matchers, ends, expected):
    with pytest.raises(BadSilence, match=expected):
        SilenceFile.of(str(tmp_path)).add(matchers, 0, ends, "", "")


def test_expiring_an_unknown_silence_names_the_listing_command(tmp_path):
    with pytest.raises(BadSilence, match="mdc alerts silences"):
        SilenceFile.of(str(tmp_path)).expire("nope", 0)
