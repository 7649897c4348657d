"""Reload requests through the data directory: each is carried out at most once and answered;
the admin route waits for the answer; the fresh-process check refuses what cannot run."""

from __future__ import annotations

import asyncio
import threading

import pytest
from fastapi.testclient import TestClient

from actors.plugin_reload import (
    NoAnswer,
    PluginRefused,
    installed_check,
    reload_and_wait,
)
from mdc.plugin_reloads import MAX_ANSWERS, BadReloadRequest, ReloadAnswer, ReloadInbox
from mdc.venues.registry import installed_version
from serve.auth import KeyRing
from serve.jsonapi import new_app
from serve.plugins_api import plugins_router

KEY = "k"


def test_a_request_is_taken_once_and_answered(tmp_path):
    inbox = ReloadInbox(str(tmp_path))
    first = inbox.submit("binance", 1)
    second = inbox.submit("kraken", 2)
    taken = inbox.take()
    assert [r.venue for r in taken] == ["binance", "kraken"] and inbox.take() == []
    assert inbox.answer_to(first) is None
    inbox.answer(ReloadAnswer(first.id, "binance", True, "now running x 2", "x 1", "x 2", 3))
    assert inbox.answer_to(first).new == "x 2" and inbox.answer_to(second) is None
    assert not list(inbox.folder.glob(f"{first.id}.taken.json"))


@pytest.mark.parametrize("name", ["", "../x", ".hidden", "a/b"])
def test_a_request_must_name_a_plugin(tmp_path, name):
    with pytest.raises(BadReloadRequest):
        ReloadInbox(str(tmp_path)).submit(name, 0)


def test_junk_in_the_folder_is_skipped_and_answers_stay_bounded(tmp_path):
    inbox = ReloadInbox(str(tmp_path))
    inbox.folder.mkdir(parents=True)
    (inbox.folder / "junk.request.json").write_text("{not json")
    assert inbox.take() == []
    for n in range(MAX_ANSWERS + 5):
        inbox.answer(ReloadAnswer(f"id{n}", "binance", False, "no", answered_ns=n))
    assert len(list(inbox.folder.glob("*.answer.json"))) == MAX_ANSWERS


def _answering(inbox: ReloadInbox, ok: bool, stop: threading.Event) -> None:
    """The collector's side of the protocol: answer whatever is asked."""
    while not stop.is_set():
        for request in inbox.take():
            inbox.answer(ReloadAnswer(request.id, request.venue, ok, "why", "a 1", "a 2", 1))
        stop.wait(0.05)


@pytest.mark.parametrize(("ok", "status"), [(True, 200), (False, 409)])
def test_the_admin_route_waits_for_the_collectors_answer(tmp_path, ok, status):
    keys = KeyRing([KEY])
    app = new_app("test", keys)
    app.include_router(plugins_router(str(tmp_path), keys))
    client = TestClient(app)
    assert client.post("/v1/plugins/binance/reload").status_code == 401
    stop = threading.Event()
    collector = threading.Thread(target=_answering, args=(ReloadInbox(str(tmp_path)), ok, stop))
    collector.start()
    try:
        reply = client.post("/v1/plugins/binance/reload", headers={"X-API-Key": KEY})
    finally:
        stop.set()
        collector.join()
    assert reply.status_code == status and reply.json()["ok"] is ok
    bad = client.post("/v1/plugins/.x/reload", headers={"X-API-Key": KEY})
    assert bad.status_code == 422 and bad.json()["field"] == "name"


def test_the_fresh_process_check_loads_built_ins_and_refuses_unknown_plugins():
    check = installed_check({"binance": ("BTC-USDT",)})
    assert asyncio.run(check("binance")) == installed_version("binance")
    assert installed_version("binance").startswith("mdc ")
    with pytest.raises(PluginRefused, match="nasdaq"):
        asyncio.run(check("nasdaq"))


def test_an_unanswered_request_is_withdrawn_so_no_later_collector_carries_it_out(tmp_path):
    inbox = ReloadInbox(str(tmp_path))
    with pytest.raises(NoAnswer) as exc:
        asyncio.run(reload_and_wait(inbox, "binance", 0.3))
    assert exc.value.withdrawn and "withdrawn" in str(exc.value)
    assert inbox.take() == []
