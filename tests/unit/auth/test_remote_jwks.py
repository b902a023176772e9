"""Keys from an identity provider's JWKS URL (a real HTTP server on 127.0.0.1): fetched on first use,
rotated keys picked up without a restart, re-fetches rate-limited, failures keep the known keys."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator

import pytest

from common.auth.key_sources import RemoteJwks
from common.auth.tokens import TokenVerifier
from common.errors import Unauthenticated
from tests.identity_provider import IdentityProvider, serving_jwks
from tests.signing import AUDIENCE, ISSUER, bearer, ec_key, ed_key, jwks, rsa_key

MIN_INTERVAL_S = 5.0
MAX_AGE_S = 300.0


@pytest.fixture
def idp() -> Iterator[IdentityProvider]:
    with serving_jwks() as provider:
        yield provider


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


def _verifier(idp: IdentityProvider, clock: Clock) -> tuple[TokenVerifier, RemoteJwks]:
    source = RemoteJwks(idp.url, min_refetch_interval_s=MIN_INTERVAL_S, max_age_s=MAX_AGE_S, clock=clock)
    return TokenVerifier(source, issuer=ISSUER, audience=AUDIENCE, leeway_s=0), source


def test_a_rotated_key_is_accepted_once_the_provider_publishes_it(
    idp: IdentityProvider, clock: Clock
) -> None:
    old, new = ec_key("2026-01"), rsa_key("2026-02")
    idp.document = jwks(old)
    verifier, _ = _verifier(idp, clock)
    assert verifier.verify_blocking(bearer(old.sign())).subject == "customer-1"

    clock.now += MIN_INTERVAL_S
    with pytest.raises(Unauthenticated, match="unknown signing key"):
        verifier.verify_blocking(bearer(new.sign()))  # not published yet

    idp.document = jwks(old, new)
    clock.now += MIN_INTERVAL_S
    assert verifier.verify_blocking(bearer(new.sign())).subject == "customer-1"
    assert verifier.verify_blocking(bearer(old.sign())).subject == "customer-1"
    assert idp.requests == 3


def test_unknown_kids_fetch_at_most_once_per_interval(idp: IdentityProvider, clock: Clock) -> None:
    known = ec_key()
    idp.document = jwks(known)
    verifier, _ = _verifier(idp, clock)
    verifier.verify_blocking(bearer(known.sign()))

    clock.now += MIN_INTERVAL_S
    for attempt in range(50):
        with pytest.raises(Unauthenticated, match="unknown signing key"):
            verifier.verify_blocking(bearer(known.sign(kid=f"made-up-{attempt}")))
        clock.now += MIN_INTERVAL_S / 100
    assert idp.requests == 2  # the first fetch and one for the whole flood

    clock.now += MIN_INTERVAL_S
    assert verifier.needs_fetch(bearer(known.sign(kid="made-up-again")))
    assert not verifier.needs_fetch(bearer(known.sign()))  # a known, fresh key never costs a request


def test_concurrent_misses_share_one_request(idp: IdentityProvider, clock: Clock) -> None:
    key = ed_key()
    idp.document = jwks(key)
    verifier, _ = _verifier(idp, clock)
    authorization = bearer(key.sign())
    start = threading.Barrier(16)
    subjects: list[str] = []

    def call() -> None:
        start.wait()
        try:
            subjects.append(verifier.verify_blocking(authorization).subject)
        except Unauthenticated as refused:
            subjects.append(refused.message)

    threads = [threading.Thread(target=call) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert subjects == ["customer-1"] * 16
    assert idp.requests == 1


def test_stale_keys_are_refreshed_so_a_withdrawn_key_stops_verifying(
    idp: IdentityProvider, clock: Clock
) -> None:
    withdrawn, kept = ec_key("old"), ec_key("current")
    idp.document = jwks(withdrawn, kept)
    verifier, _ = _verifier(idp, clock)
    verifier.verify_blocking(bearer(withdrawn.sign()))

    idp.document = jwks(kept)
    clock.now += MAX_AGE_S
    with pytest.raises(Unauthenticated, match="unknown signing key"):
        verifier.verify_blocking(bearer(withdrawn.sign()))
    assert verifier.verify_blocking(bearer(kept.sign())).subject == "customer-1"


def test_a_failed_fetch_keeps_the_keys_already_known(idp: IdentityProvider, clock: Clock) -> None:
    key = ec_key()
    idp.document = jwks(key)
    verifier, _ = _verifier(idp, clock)
    verifier.verify_blocking(bearer(key.sign()))

    idp.status = 500
    clock.now += MAX_AGE_S
    assert verifier.verify_blocking(bearer(key.sign())).subject == "customer-1"
    assert idp.requests == 2


def test_an_unreachable_provider_answers_unknown_key_not_an_error(clock: Clock) -> None:
    source = RemoteJwks("http://127.0.0.1:9/jwks", timeout_s=1.0, clock=clock)
    verifier = TokenVerifier(source, issuer=ISSUER, audience=AUDIENCE, leeway_s=0)

    with pytest.raises(Unauthenticated, match="unknown signing key"):
        verifier.verify_blocking(bearer(ec_key().sign()))


def test_an_event_loop_verifies_without_blocking_and_fetches_in_a_thread(
    idp: IdentityProvider, clock: Clock
) -> None:
    """The pattern the aio interceptor follows: cheap checks inline, the fetch via asyncio.to_thread."""
    key = rsa_key()
    idp.document = jwks(key)
    verifier, _ = _verifier(idp, clock)
    authorization = bearer(key.sign())

    async def authenticate() -> str:
        loop_thread = threading.get_ident()
        fetched_on: list[int] = []

        def fetch() -> None:
            fetched_on.append(threading.get_ident())
            verifier.fetch_keys()

        if verifier.needs_fetch(authorization):
            await asyncio.to_thread(fetch)
        assert fetched_on and fetched_on[0] != loop_thread
        return verifier.verify(authorization).subject

    assert asyncio.run(authenticate()) == "customer-1"


def test_only_http_urls_are_fetched() -> None:
    with pytest.raises(ValueError, match="http"):
        RemoteJwks("file:///etc/passwd")
