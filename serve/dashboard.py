"""`/ui`: the operator dashboard, served by the API's ingress with nothing fetched from elsewhere.

    GET /ui                       the page (login form: the API key, kept for the browser session)
    GET /ui/static/<file>         its scripts and styles (serve/ui/static)
    GET /ui/vendor/<pkg>/<file>   front-end packages from the npm registry, installed by
                                  `scripts/setup` into serve/ui/node_modules (pyodide, uplot)
    GET /ui/py/mdc-browser.zip    the Python the page runs under Pyodide: mdc's core (events,
                                  books, venue book syncs, features) and its pure-Python
                                  dependencies, with a pure-Python stand-in for msgspec
    GET /v1/status                the collector's status panel (DATA_DIR/status.json), keyed

The page and its assets hold no data, so they need no key; every data call the page makes
(`/v1/stream`, `/v1/features`, `/v1/status`, `/v1/cost`, ...) presents the key. Assets are sent
with an ETag and a day of freshness, so a warm load reads them from the browser's cache, and
gzip-compressed where that pays (Pyodide's 9.6 MB of WebAssembly travel as 3.5 MB), compressed
once per process and kept (benchmarks/dashboard.py measures the page weight).
"""

from __future__ import annotations

import gzip
import importlib.metadata
import io
import os
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

from fastapi import APIRouter, Depends, Request, Response
from starlette.concurrency import run_in_threadpool

import mdc
from actors.panel import read_status
from serve.auth import KeyRing
from serve.jsonapi import ApiError, json_response, key_dependency

UI_DIR = Path(__file__).resolve().parent / "ui"
ASSETS_ENV = "MDC_UI_ASSETS"
"""Where the npm packages are, if not in serve/ui/node_modules (a container image may move them)."""
VENDOR = {
    "pyodide": (
        "pyodide.mjs",
        "pyodide.asm.mjs",
        "pyodide.asm.wasm",
        "python_stdlib.zip",
        "pyodide-lock.json",
    ),
    "uplot": ("dist/uPlot.iife.min.js", "dist/uPlot.min.css"),
}
"""The files of each package the page loads (nothing else under node_modules is served)."""
MEDIA_TYPES = {
    ".mjs": "text/javascript",
    ".js": "text/javascript",
    ".css": "text/css",
    ".html": "text/html; charset=utf-8",
    ".wasm": "application/wasm",
    ".zip": "application/zip",
    ".json": "application/json",
}
CACHE = {"Cache-Control": "public, max-age=86400", "Vary": "Accept-Encoding"}
COMPRESSED = frozenset({".mjs", ".js", ".css", ".html", ".wasm", ".json"})
"""Types worth gzip (python_stdlib.zip and the bundle are zip files: compressed already)."""
BROWSER_PACKAGES = ("sortedcontainers", "yaml")
"""Pure-Python dependencies of mdc's core (PyYAML falls back to pure Python without libyaml)."""
BROWSER_PARTS = (
    "mdc/__init__.py",
    "mdc/errors.py",
    "mdc/events.py",
    "mdc/book.py",
    "mdc/sync.py",
    "mdc/configfile.py",
    "mdc/plugins.py",
    "mdc/timefmt.py",
    "mdc/features/",
    "mdc/venues/",
)
"""The parts of mdc the page imports: events, books, the venues' book syncs, features."""
NO_ASSETS = (
    "front-end packages are not installed: run `bash scripts/setup` (it needs npm), or set "
    f"{ASSETS_ENV} to a folder holding node_modules/pyodide and node_modules/uplot"
)


def vendor_root() -> Path:
    return Path(os.environ.get(ASSETS_ENV) or UI_DIR) / "node_modules"


def _source_files(package: str) -> Iterator[tuple[str, Path]]:
    """(name in the archive, file) for every .py of an importable package."""
    module = __import__(package)
    root = Path(module.__file__).resolve().parent
    for path in sorted(root.rglob("*.py")):
        name = f"{package}/{path.relative_to(root).as_posix()}"
        if package != "mdc" or name.startswith(BROWSER_PARTS):
            yield name, path


def _entry_points() -> str:
    """mdc's venue entry points, so `get_venue` in the browser finds the same book syncs."""
    lines = ["[mdc.venues]"]
    for entry in importlib.metadata.entry_points(group="mdc.venues"):
        if entry.value.startswith("mdc."):
            lines.append(f"{entry.name} = {entry.value}")
    return "\n".join(lines) + "\n"


def browser_bundle() -> bytes:
    """The zip the page unpacks into Pyodide's file system and puts on sys.path."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for package in ("mdc", *BROWSER_PACKAGES):
            for name, path in _source_files(package):
                archive.write(path, name)
        for path in sorted((UI_DIR / "py").rglob("*.py")):
            archive.write(path, path.relative_to(UI_DIR / "py").as_posix())
        info = f"mdc-{mdc.__version__}.dist-info"
        archive.writestr(f"{info}/METADATA", f"Name: mdc\nVersion: {mdc.__version__}\n")
        archive.writestr(f"{info}/entry_points.txt", _entry_points())
    return out.getvalue()


class Assets:
    """Asset bytes by file, plain and gzip-compressed, read and compressed once per version of
    the file (its size and mtime are its ETag). Bounded: only the whitelisted files get here."""

    def __init__(self) -> None:
        self._kept: dict[tuple[Path, bool], tuple[str, bytes]] = {}

    def get(self, path: Path, compress: bool) -> tuple[str, bytes]:
        stat = path.stat()
        etag = f'"{stat.st_mtime_ns:x}-{stat.st_size:x}{"-gz" if compress else ""}"'
        kept = self._kept.get((path, compress))
        if kept is None or kept[0] != etag:
            body = path.read_bytes()
            kept = (etag, gzip.compress(body, 6) if compress else body)
            self._kept[path, compress] = kept
        return kept

    async def response(self, path: Path, request: Request, cache: bool = True) -> Response:
        compress = path.suffix in COMPRESSED and "gzip" in request.headers.get(
            "accept-encoding", ""
        )
        etag, body = await run_in_threadpool(self.get, path, compress)
        headers = (CACHE if cache else {"Vary": "Accept-Encoding"}) | {"ETag": etag}
        if request.headers.get("if-none-match") == etag:
            return Response(status_code=304, headers=headers)
        if compress:
            headers["Content-Encoding"] = "gzip"
        media = MEDIA_TYPES.get(path.suffix, "application/octet-stream")
        return Response(body, media_type=media, headers=headers)


def ui_router(data_dir: str | None, keys: KeyRing) -> APIRouter:
    router = APIRouter()
    statics = {p.name: p for p in (UI_DIR / "static").iterdir() if p.is_file()}
    bundle: list[bytes] = []
    assets = Assets()

    @router.get("/ui", include_in_schema=False)
    async def page(request: Request) -> Response:
        return await assets.response(statics["index.html"], request, cache=False)

    @router.get("/ui/static/{name}", include_in_schema=False)
    async def static(name: str, request: Request) -> Response:
        if name not in statics:
            raise ApiError(404, f"no such file: {name}")
        return await assets.response(statics[name], request)

    @router.get("/ui/vendor/{package}/{path:path}", include_in_schema=False)
    async def vendor(package: str, path: str, request: Request) -> Response:
        if path not in VENDOR.get(package, ()):
            raise ApiError(404, f"not served: {package}/{path}")
        found = vendor_root() / package / path
        if not found.is_file():
            raise ApiError(503, NO_ASSETS)
        return await assets.response(found, request)

    @router.get("/ui/py/mdc-browser.zip", include_in_schema=False)
    async def python() -> Response:
        if not bundle:
            bundle.append(browser_bundle())
        return Response(bundle[0], media_type="application/zip", headers=CACHE)

    @router.get("/v1/status", dependencies=[Depends(key_dependency(keys))])
    async def status() -> Response:
        return json_response(status_answer(data_dir))

    return router


def status_answer(data_dir: str | None) -> dict:
    """The panel's rows and how old they are; 404 when no collector writes them here."""
    if data_dir is None:
        raise ApiError(404, "no collector status: this API runs without a data directory")
    try:
        status = read_status(data_dir)
    except FileNotFoundError:
        raise ApiError(404, "no collector status yet: is `mdc run` writing here?") from None
    except (OSError, ValueError) as exc:
        raise ApiError(503, f"collector status unreadable ({exc}); retry") from None
    written = int(status.get("written_ns", 0))
    return {"age_s": round((time.time_ns() - written) / 1e9, 3), "rows": status.get("rows", {})}
