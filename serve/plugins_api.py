"""The venue plugins' admin route, beside the other admin routes and behind the same keys:

    POST /v1/plugins/{name}/reload   hot-reload a venue plugin in the collector writing to the
                                     data directory: 200 {"ok": true, "detail", "old", "new"}
                                     once the new version runs; 409 with why when it was refused
                                     (the old version keeps running); 504 when no collector
                                     answered in time (is `mdc run` using this data directory?)

It writes the same request file as `mdc plugins reload` (mdc.plugin_reloads) and waits for the
collector's answer.
"""

from __future__ import annotations

import time
from dataclasses import asdict

from fastapi import APIRouter, Depends, Response

from actors.waiting import WaitTimeout, wait_until
from mdc.plugin_reloads import BadReloadRequest, ReloadAnswer, ReloadInbox
from serve.auth import KeyRing
from serve.jsonapi import ApiError, invalid, json_response, key_dependency

ANSWER_TIMEOUT_S = 120.0


async def reload_and_wait(
    inbox: ReloadInbox, venue: str, timeout_s: float = ANSWER_TIMEOUT_S
) -> ReloadAnswer:
    """Asks the collector to reload `venue` and returns its answer (WaitTimeout if none)."""
    request = inbox.submit(venue, time.time_ns())
    found: list[ReloadAnswer] = []

    async def answered() -> bool:
        answer = inbox.answer_to(request)
        if answer is not None:
            found.append(answer)
        return answer is not None

    await wait_until(answered, timeout_s, f"the collector's answer to reloading {venue}", 0.2)
    return found[0]


def plugins_router(data_dir: str, keys: KeyRing) -> APIRouter:
    router = APIRouter(dependencies=[Depends(key_dependency(keys))])
    inbox = ReloadInbox(data_dir)

    @router.post("/v1/plugins/{name}/reload")
    async def reload(name: str) -> Response:
        try:
            answer = await reload_and_wait(inbox, name)
        except BadReloadRequest as exc:
            raise invalid("name", str(exc)) from None
        except WaitTimeout:
            raise ApiError(
                504, "no collector answered: is `mdc run` writing to this data directory?"
            ) from None
        return json_response(asdict(answer), 200 if answer.ok else 409)

    return router
