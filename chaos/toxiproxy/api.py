"""The HTTP routes of the Toxiproxy API (aiohttp); bodies and statuses as in the spec."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from chaos.toxiproxy.errors import PopulateFailed, ToxiproxyError
from chaos.toxiproxy.model import decode_body, toxic_json
from chaos.toxiproxy.proxies import ProxySet

VERSION = "2.12.0"
"""The Toxiproxy release whose API this server reproduces."""
HANDLER_TIMEOUT_S = 25.0
_JSON = "application/json"
_TEXT = "text/plain; charset=utf-8"
_PROXIES: web.AppKey[ProxySet] = web.AppKey("proxies", ProxySet)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def build_app(proxies: ProxySet) -> web.Application:
    app = web.Application(middlewares=[_toxiproxy_middleware])
    app[_PROXIES] = proxies
    app.add_routes(
        [
            web.get("/version", _version),
            web.post("/reset", _reset),
            web.get("/proxies", _proxy_index),
            web.post("/proxies", _proxy_create),
            web.post("/populate", _populate),
            web.get("/proxies/{proxy}", _proxy_show),
            web.patch("/proxies/{proxy}", _proxy_update),
            web.post("/proxies/{proxy}", _proxy_update),
            web.delete("/proxies/{proxy}", _proxy_delete),
            web.get("/proxies/{proxy}/toxics", _toxic_index),
            web.post("/proxies/{proxy}/toxics", _toxic_create),
            web.get("/proxies/{proxy}/toxics/{toxic}", _toxic_show),
            web.patch("/proxies/{proxy}/toxics/{toxic}", _toxic_update),
            web.post("/proxies/{proxy}/toxics/{toxic}", _toxic_update),
            web.delete("/proxies/{proxy}/toxics/{toxic}", _toxic_delete),
        ]
    )
    return app


@web.middleware
async def _toxiproxy_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Browser block, handler timeout, error bodies, request ids, Go-style 404/405."""
    try:
        if request.headers.get("User-Agent", "").startswith("Mozilla/"):
            response: web.StreamResponse = _text(403, "User agent not allowed\n")
        else:
            async with asyncio.timeout(HANDLER_TIMEOUT_S):
                response = await handler(request)
    except web.HTTPNotFound:
        return _text(404, "404 page not found\n")
    except web.HTTPMethodNotAllowed:
        return web.Response(status=405)
    except ToxiproxyError as exc:
        response = _error(exc)
    response.headers["X-Toxiproxy-Request-Id"] = uuid.uuid4().hex
    return response


def _text(status: int, body: str) -> web.Response:
    return web.Response(status=status, body=body.encode(), headers={"Content-Type": _TEXT})


def _error(exc: ToxiproxyError) -> web.Response:
    """Go's http.Error: a JSON line served as text/plain, with nosniff."""
    response = _text(exc.status, _dumps({"error": exc.message, "status": exc.status}) + "\n")
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


def _json(value: Any, status: int = 200) -> web.Response:
    return web.Response(status=status, body=_dumps(value).encode(), content_type=_JSON)


def _no_content() -> web.Response:
    return web.Response(status=204)


def _proxies(request: web.Request) -> ProxySet:
    return request.app[_PROXIES]


async def _body(request: web.Request, go_type: str) -> Any:
    return decode_body(await request.read(), go_type)


async def _version(request: web.Request) -> web.Response:
    body = json.dumps({"version": VERSION}) + "\n"
    return web.Response(
        body=body.encode(), headers={"Content-Type": "application/json;charset=utf-8"}
    )


async def _reset(request: web.Request) -> web.Response:
    await _proxies(request).reset()
    return _no_content()


async def _proxy_index(request: web.Request) -> web.Response:
    return _json({name: p.to_json() for name, p in _proxies(request).proxies.items()})


async def _proxy_create(request: web.Request) -> web.Response:
    body = await _body(request, "proxy.Proxy")
    return _json((await _proxies(request).create(body)).to_json(), status=201)


async def _populate(request: web.Request) -> web.Response:
    proxies = _proxies(request)
    try:
        items = await _body(request, "[]struct { Name string; Listen string; Upstream string }")
        created = await proxies.populate(items)
    except PopulateFailed as exc:
        return _populate_error(exc, exc.created)
    except ToxiproxyError as exc:
        return _populate_error(exc, None)
    return _json({"proxies": [p.to_json() for p in created]}, status=201)


def _populate_error(exc: ToxiproxyError, created: list[dict[str, Any]] | None) -> web.Response:
    """This endpoint's errors are real JSON and list the proxies made before the failure."""
    return _json({"error": exc.message, "status": exc.status, "proxies": created}, exc.status)


async def _proxy_show(request: web.Request) -> web.Response:
    return _json(_proxies(request).get(request.match_info["proxy"]).to_json())


async def _proxy_update(request: web.Request) -> web.Response:
    proxies = _proxies(request)
    name = proxies.get(request.match_info["proxy"]).name
    body = await _body(request, "proxy.Proxy")
    return _json((await proxies.update(name, body)).to_json())


async def _proxy_delete(request: web.Request) -> web.Response:
    await _proxies(request).delete(request.match_info["proxy"])
    return _no_content()


async def _toxic_index(request: web.Request) -> web.Response:
    proxy = _proxies(request).get(request.match_info["proxy"])
    return _json([toxic_json(s) for s in proxy.toxics.ordered()])


async def _toxic_create(request: web.Request) -> web.Response:
    proxy = _proxies(request).get(request.match_info["proxy"])
    spec = proxy.add_toxic(await _body(request, "toxics.ToxicWrapper"))
    return _json(toxic_json(spec))


async def _toxic_show(request: web.Request) -> web.Response:
    proxy = _proxies(request).get(request.match_info["proxy"])
    return _json(toxic_json(proxy.toxics.get(request.match_info["toxic"])))


async def _toxic_update(request: web.Request) -> web.Response:
    proxy = _proxies(request).get(request.match_info["proxy"])
    name = proxy.toxics.get(request.match_info["toxic"]).name
    body = await _body(request, "toxics.ToxicWrapper")
    return _json(toxic_json(proxy.update_toxic(name, body)))


async def _toxic_delete(request: web.Request) -> web.Response:
    _proxies(request).get(request.match_info["proxy"]).remove_toxic(request.match_info["toxic"])
    return _no_content()
