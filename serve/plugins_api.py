"""The venue plugins' admin route, beside the other admin routes and behind the same keys:

    POST /v1/plugins/{name}/reload   hot-reload a venue plugin in the collector writing to the
                                     data directory: 200 {"ok": true, "detail", "old", "new"}
                                     once the new version runs; 409 with why when it was refused
                                     (the old version keeps running); 504 when no collector
                                     answered in time (the request is then withdrawn, as
                                     `mdc plugins reload` withdraws it)

It writes the same request file as `mdc plugins reload` (mdc.plugin_reloads) and waits for the
collector's answer.
"""

from __future__ import annotations

from dataclasses import asdict

from fastapi import APIRouter, Depends, Response

from actors.plugin_reload import NoAnswer, reload_and_wait
from mdc.plugin_reloads import BadReloadRequest, ReloadInbox
from serve.auth import KeyRing
from serve.jsonapi import ApiError, invalid, json_response, key_dependency

ANSWER_TIMEOUT_S = 120.0


def plugins_router(data_dir: str, keys: KeyRing) -> APIRouter:
    router = APIRouter(dependencies=[Depends(key_dependency(keys))])
    inbox = ReloadInbox(data_dir)

    @router.post("/v1/plugins/{name}/reload")
    async def reload(name: str) -> Response:
        try:
            answer = await reload_and_wait(inbox, name, ANSWER_TIMEOUT_S)
        except BadReloadRequest as exc:
            raise invalid("name", str(exc)) from None
        except NoAnswer as exc:
            raise ApiError(504, f"{exc}: is `mdc run` writing to this data directory?") from None
        return json_response(asdict(answer), 200 if answer.ok else 409)

    return router
