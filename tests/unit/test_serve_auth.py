"""serve.auth: key configuration, hashes, the constant-time check and header parsing."""

from __future__ import annotations

import hmac

import pytest

from mdc.errors import ConfigError
from serve import auth
from serve.auth import AuthResult, KeyRing, api_keys_from_env, key_hash, presented_key


def test_results_map_to_401_403_200():
    ring = KeyRing(("alpha", "beta"))
    assert ring.check(None) is AuthResult.MISSING and AuthResult.MISSING.status == 401
    assert ring.check("bet") is AuthResult.WRONG and AuthResult.WRONG.status == 403
    assert ring.check("") is AuthResult.WRONG
    assert ring.check("beta") is AuthResult.OK and AuthResult.OK.status == 200


def test_hashes_from_config_stand_in_for_keys():
    ring = KeyRing(hashes=[key_hash("gamma")])
    assert ring.allows("gamma") and not ring.allows("alpha")
    assert key_hash("gamma").startswith("sha256:") and len(key_hash("gamma")) == 7 + 64


@pytest.mark.parametrize("bad", ["gamma", "sha256:xyz", "sha256:" + "0" * 63, "md5:" + "0" * 64])
def test_bad_hash_is_a_config_error(bad):
    with pytest.raises(ConfigError, match="sha256:<64 hex digits>"):
        KeyRing(hashes=[bad])


def test_from_env_reads_keys_and_hashes_and_refuses_none():
    env = {"MDC_API_KEYS": " a, ,b ", "MDC_API_KEY_HASHES": key_hash("c")}
    ring = KeyRing.from_env(env)
    assert len(ring) == 3 and all(ring.allows(k) for k in "abc")
    with pytest.raises(ConfigError, match="at least one"):
        KeyRing.from_env({"MDC_API_KEYS": " , "})
    with pytest.raises(ConfigError, match="MDC_API_KEYS is empty: the prediction API"):
        api_keys_from_env({}, who="the prediction API")


def test_every_digest_is_compared_even_after_a_match(monkeypatch):
    calls, real = [], hmac.compare_digest

    def counting(a, b):
        calls.append(1)
        return real(a, b)

    monkeypatch.setattr(auth.hmac, "compare_digest", counting)
    ring = KeyRing(("k1", "k2", "k3", "k4"))
    assert ring.allows("k1")
    assert len(calls) == 4


@pytest.mark.parametrize(
    ("x_api_key", "authorization", "expected"),
    [
        ("k", None, "k"),
        ("k", "Bearer other", "k"),
        (None, "Bearer tok", "tok"),
        (None, "bearer  tok ", "tok"),
        (None, "Basic tok", None),
        (None, "Bearer ", None),
        (None, None, None),
    ],
)
def test_presented_key(x_api_key, authorization, expected):
    assert presented_key(x_api_key, authorization) == expected
