"""API keys for every HTTP surface (prediction API, DLQ admin): one framework-free check.

Keys come from `MDC_API_KEYS` (comma-separated plain keys) and/or `sha256:<hex>` digests (from
configuration, e.g. `MDC_API_KEY_HASHES` or `mdc serve --api-key-hash`), so a deployment need not
hold the keys themselves. A presented key is hashed once and compared with `hmac.compare_digest`
against every configured digest without stopping at a match: the time taken depends only on the
number of keys, never on which key (or how much of one) matched.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import os
from collections.abc import Iterable, Mapping

from mdc.errors import ConfigError
from mdc.keyhash import HASH_PREFIX, parse_key_hash

API_KEYS_ENV = "MDC_API_KEYS"
API_KEY_HASHES_ENV = "MDC_API_KEY_HASHES"


class AuthResult(enum.Enum):
    """Outcome of a key check, with the HTTP status and message an API answers with."""

    MISSING = (401, "missing API key: send it as X-API-Key or Authorization: Bearer")
    WRONG = (403, "API key not accepted")
    OK = (200, "")

    @property
    def status(self) -> int:
        return self.value[0]

    @property
    def message(self) -> str:
        return self.value[1]


def _csv(text: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in text.split(",") if part.strip())


def api_keys_from_env(
    environ: Mapping[str, str] = os.environ, who: str = "the admin API"
) -> tuple[str, ...]:
    """The plain keys of `MDC_API_KEYS`; none is a ConfigError (an API never runs open)."""
    keys = _csv(environ.get(API_KEYS_ENV, ""))
    if not keys:
        raise ConfigError(f"{API_KEYS_ENV} is empty: {who} refuses to run without keys")
    return keys


def key_hash(key: str) -> str:
    """The `sha256:<hex>` form of a key, to put in configuration instead of the key."""
    return HASH_PREFIX + _digest(key).hex()


def _digest(key: str) -> bytes:
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).digest()


class KeyRing:
    """The configured keys (as digests) and a constant-time check of a presented key."""

    def __init__(self, keys: Iterable[str] = (), hashes: Iterable[str] = ()) -> None:
        self._digests = [_digest(k) for k in keys] + [parse_key_hash(h) for h in hashes]
        if not self._digests:
            raise ConfigError(
                f"the API needs at least one API key ({API_KEYS_ENV}) or key hash "
                f"({API_KEY_HASHES_ENV}, {HASH_PREFIX}<hex>)"
            )

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str] = os.environ, hashes: Iterable[str] = ()
    ) -> KeyRing:
        """Keys of `MDC_API_KEYS`, hashes of `MDC_API_KEY_HASHES` plus `hashes`."""
        return cls(
            _csv(environ.get(API_KEYS_ENV, "")),
            (*_csv(environ.get(API_KEY_HASHES_ENV, "")), *hashes),
        )

    def __len__(self) -> int:
        return len(self._digests)

    def allows(self, presented: str) -> bool:
        given = _digest(presented)
        allowed = False
        for digest in self._digests:
            allowed |= hmac.compare_digest(digest, given)
        return allowed

    def check(self, presented: str | None) -> AuthResult:
        if presented is None:
            return AuthResult.MISSING
        return AuthResult.OK if self.allows(presented) else AuthResult.WRONG


def presented_key(x_api_key: str | None, authorization: str | None) -> str | None:
    """The key a request carries: `X-API-Key`, else a non-empty `Authorization: Bearer` token."""
    if x_api_key is not None:
        return x_api_key
    scheme, _, token = (authorization or "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None
