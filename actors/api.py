"""The prediction API beside a running collector: Ray Serve, with live features from the
collector's BookActors. A failure to start it is reported and ingest goes on without it: losing
the API must never cost market data."""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from actors.books import BOOKS_ACTOR_TEMPLATE
from actors.sidefiles import SideFile
from actors.supervisor import DEFAULT_NAMESPACE
from mdc.errors import CollectorError
from serve.app import MAX_FEATURE_AGE_S
from serve.auth import API_KEY_HASHES_ENV, API_KEYS_ENV, KeyRing
from serve.deployment import (
    ServeOptions,
    ServePath,
    ServeSpec,
    describe,
    start_serve,
    stop_serve,
)

KEY_FILE = "api-key"


def key_ring(data_dir: str, hashes: tuple[str, ...] = ()) -> KeyRing:
    """The configured keys ($MDC_API_KEYS, $MDC_API_KEY_HASHES, the config's [api]
    key_hashes); with none configured, a fresh random key for this run, printed once and kept
    (mode 0600) in DATA_DIR/api-key, so a first run on a laptop just works (a disk that cannot
    keep it leaves it in the printed line only)."""
    if os.environ.get(API_KEYS_ENV) or os.environ.get(API_KEY_HASHES_ENV) or hashes:
        return KeyRing.from_env(hashes=hashes)
    key = secrets.token_urlsafe(24)
    path = Path(data_dir) / KEY_FILE
    side = SideFile("API key file", str(path), "the key below is not kept anywhere else")
    kept = side.write(partial(_keep_key, path, key))
    print(
        f"mdc run: no {API_KEYS_ENV} set; this run's API key is "
        f"{f'in {path}' if kept else 'only in this line'} (send it as X-API-Key): {key}",
        file=sys.stderr,
    )
    return KeyRing([key])


def _keep_key(path: Path, key: str) -> None:
    """Whole or not at all: an empty key file left by a full disk would only mislead."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "w") as out:
            out.write(key + "\n")
    except OSError:
        path.unlink(missing_ok=True)
        raise


@dataclass(frozen=True)
class ApiSettings:
    """Where and how `mdc run` serves the API (its --api-* options)."""

    host: str = "127.0.0.1"
    port: int = 8000
    path: ServePath = ServePath.DIRECT
    environment_preset: bool = False
    venues: tuple[str, ...] = ()
    max_feature_age_s: float = MAX_FEATURE_AGE_S
    data_dir: str | None = None


@contextlib.asynccontextmanager
async def prediction_api(
    settings: ApiSettings, keys: KeyRing, stream_target: str | None = None
) -> AsyncIterator[str | None]:
    """Serve while the block runs; yields the base URL, or None when it could not start.
    `/v1/stream` relays the gRPC server at `stream_target`, if one runs; `/graphql` reads the
    store in `settings.data_dir`."""
    spec = ServeSpec(
        keys,
        stream_target=stream_target,
        store_dir=settings.data_dir,
        actor=BOOKS_ACTOR_TEMPLATE,
        actor_namespace=DEFAULT_NAMESPACE,
        venues=settings.venues,
        max_feature_age_s=settings.max_feature_age_s,
    )
    options = ServeOptions(settings.path, environment_preset=settings.environment_preset)
    print("mdc run: starting the prediction API (a few seconds)...", file=sys.stderr)
    try:
        served = await asyncio.to_thread(start_serve, spec, settings.host, settings.port, options)
    except CollectorError as exc:
        print(
            f"mdc run: prediction API not started: {exc}; collecting without it "
            "(choose --api-port, or --no-api)",
            file=sys.stderr,
        )
        yield None
        return
    print(
        f"mdc run: prediction API on {served.url} (POST /v1/predict, GET /v1/models)",
        file=sys.stderr,
    )
    for line in describe(served):
        print(f"mdc run: {line}", file=sys.stderr)
    try:
        yield served.url
    finally:
        await asyncio.to_thread(stop_serve)
