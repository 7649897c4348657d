"""The `sha256:<64 hex digits>` form of an API key: the one definition of the format, read by
the configuration (checked at load) and by every API's key check (serve/auth.py)."""

from __future__ import annotations

import re

from mdc.errors import ConfigError

HASH_PREFIX = "sha256:"
_HEX64 = re.compile(r"[0-9a-fA-F]{64}")


def parse_key_hash(text: str) -> bytes:
    """`sha256:<64 hex digits>` -> the 32-byte digest; anything else is a ConfigError."""
    hex_part = text.strip().removeprefix(HASH_PREFIX)
    if not text.strip().startswith(HASH_PREFIX) or not _HEX64.fullmatch(hex_part):
        raise ConfigError(f"bad API key hash {text!r}: use sha256:<64 hex digits>")
    return bytes.fromhex(hex_part)
