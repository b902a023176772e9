"""Verified tokens are remembered, but never past their expiry, their time to live, or a key-set change."""

from __future__ import annotations

import json
import time

import pytest

from common.auth.key_sources import StaticKeys
from common.auth.keys import VerificationKey, parse_jwks
from common.auth.principal import AuthMethod, Principal
from common.auth.tokens import TokenVerifier
from common.auth.verified_tokens import VerifiedTokens
from common.errors import Unauthenticated
from tests.support.signing import AUDIENCE, ISSUER, SigningKey, bearer, ec_key, jwks

LEEWAY_S = 30


class Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


class CountingKeys(StaticKeys):
    """A static key set that counts lookups (a lookup means the signature is checked again)."""

    lookups = 0

    def key(self, kid: str | None) -> VerificationKey | None:
        self.lookups += 1
        return super().key(kid)


def _setup(
    ttl_s: float = 60.0, max_entries: int = 4096
) -> tuple[TokenVerifier, CountingKeys, Clock, SigningKey]:
    clock = Clock()
    key = ec_key()
    keys = CountingKeys(parse_jwks(json.dumps(jwks(key)).encode()))
    cache = VerifiedTokens(ttl_s=ttl_s, max_entries=max_entries, clock=clock)
    verifier = TokenVerifier(keys, issuer=ISSUER, audience=AUDIENCE, leeway_s=LEEWAY_S, verified=cache)
    return verifier, keys, clock, key


def test_a_token_sent_again_is_not_checked_again() -> None:
    verifier, keys, _, key = _setup()
    authorization = bearer(key.sign())

    first = verifier.verify(authorization)
    assert verifier.verify(authorization) is first
    assert verifier.pending_fetch(authorization) is None
    assert keys.lookups == 1


def test_a_remembered_token_is_forgotten_when_it_expires() -> None:
    verifier, keys, clock, key = _setup(ttl_s=3600)
    authorization = bearer(key.sign(exp=int(clock.now) + 10))
    verifier.verify(authorization)

    clock.now += 10 + LEEWAY_S
    # Checked again, so jwt.decode's own expiry check (on the real clock) decides, as on the first call.
    verifier.verify(authorization)
    assert keys.lookups == 2


def test_a_remembered_token_is_checked_again_after_its_time_to_live() -> None:
    verifier, keys, clock, key = _setup(ttl_s=60)
    authorization = bearer(key.sign())
    verifier.verify(authorization)

    clock.now += 60
    verifier.verify(authorization)
    assert keys.lookups == 2


def test_a_key_set_change_forgets_every_remembered_token() -> None:
    verifier, keys, _, key = _setup()
    authorization = bearer(key.sign())
    verifier.verify(authorization)

    keys.generation = 1
    keys._keys = {}  # the key was withdrawn
    with pytest.raises(Unauthenticated, match="unknown signing key"):
        verifier.verify(authorization)


def test_the_memory_is_bounded() -> None:
    cache = VerifiedTokens(max_entries=3)
    who = Principal("s", frozenset(), AuthMethod.BEARER_TOKEN)
    for n in range(5):
        cache.put(f"t{n}", who, expires_at=time.time() + 60, key_generation=0)

    assert len(cache) == 3
    assert cache.get("t0", 0) is None
    assert cache.get("t4", 0) is who
