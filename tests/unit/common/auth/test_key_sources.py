"""Keys from an identity provider's JWKS URL (a real HTTP server on 127.0.0.1): fetched at start or on
first use, rotated keys picked up without a restart, re-fetches rate-limited, failures and documents
without a usable key keep the known keys; a known key never waits for a fetch, an unknown one waits on
one shared fetch (a bounded number of them) or is decided at once."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from loguru import logger

from common.auth.key_sources import MAX_JWKS_BYTES, NoUsableKeys, RemoteJwks
from common.auth.tokens import TokenVerifier
from common.errors import Unauthenticated
from tests.support.helpers import wait_until
from tests.support.identity_provider import IdentityProvider, serving_jwks, verify_waiting
from tests.support.signing import (
    AUDIENCE,
    ISSUER,
    bearer,
    ec_key,
    ed_key,
    hmac_jwk,
    jwks,
    rsa_key,
    weak_rsa_key,
)

MIN_INTERVAL_S = 5.0
MAX_AGE_S = 300.0
WAIT_S = 10.0


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


@pytest.fixture
def warnings() -> Iterator[list[str]]:
    lines: list[str] = []
    sink = logger.add(lambda message: lines.append(str(message)), format="{message}", level="WARNING")
    try:
        yield lines
    finally:
        logger.remove(sink)


def _verifier(idp: IdentityProvider, clock: Clock) -> tuple[TokenVerifier, RemoteJwks]:
    source = RemoteJwks(idp.url, min_refetch_interval_s=MIN_INTERVAL_S, max_age_s=MAX_AGE_S, clock=clock)
    return TokenVerifier(source, issuer=ISSUER, audience=AUDIENCE, leeway_s=0), source


def test_a_rotated_key_is_accepted_once_the_provider_publishes_it(
    idp: IdentityProvider, clock: Clock
) -> None:
    old, new = ec_key("2026-01"), rsa_key("2026-02")
    idp.document = jwks(old)
    verifier, _ = _verifier(idp, clock)
    assert verify_waiting(verifier, bearer(old.sign())).subject == "customer-1"

    clock.now += MIN_INTERVAL_S
    with pytest.raises(Unauthenticated, match="unknown signing key"):
        verify_waiting(verifier, bearer(new.sign()))  # not published yet

    idp.document = jwks(old, new)
    clock.now += MIN_INTERVAL_S
    assert verify_waiting(verifier, bearer(new.sign())).subject == "customer-1"
    assert verify_waiting(verifier, bearer(old.sign())).subject == "customer-1"
    assert idp.requests == 3


def test_unknown_kids_fetch_at_most_once_per_interval(idp: IdentityProvider, clock: Clock) -> None:
    known = ec_key()
    idp.document = jwks(known)
    verifier, _ = _verifier(idp, clock)
    verify_waiting(verifier, bearer(known.sign()))

    clock.now += MIN_INTERVAL_S
    for attempt in range(50):
        with pytest.raises(Unauthenticated, match="unknown signing key"):
            verify_waiting(verifier, bearer(known.sign(kid=f"made-up-{attempt}")))
        clock.now += MIN_INTERVAL_S / 100
    assert idp.requests == 2  # the first fetch and one for the whole flood

    clock.now += MIN_INTERVAL_S
    assert verifier.pending_fetch(bearer(known.sign(kid="made-up-again"))) is not None
    assert verifier.pending_fetch(bearer(known.sign())) is None  # a known key never waits


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
            subjects.append(verify_waiting(verifier, authorization).subject)
        except Unauthenticated as refused:
            subjects.append(refused.message)

    threads = [threading.Thread(target=call) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert subjects == ["customer-1"] * 16
    assert idp.requests == 1


def test_stale_keys_are_refreshed_behind_the_calls_so_a_withdrawn_key_stops_verifying(
    idp: IdentityProvider, clock: Clock
) -> None:
    withdrawn, kept = ec_key("old"), ec_key("current")
    idp.document = jwks(withdrawn, kept)
    verifier, source = _verifier(idp, clock)
    verify_waiting(verifier, bearer(withdrawn.sign()))
    generation = source.generation

    idp.document = jwks(kept)
    clock.now += MAX_AGE_S
    # The call that finds the keys stale goes on with them; the refresh runs behind it.
    assert verifier.pending_fetch(bearer(withdrawn.sign())) is None
    wait_until(lambda: source.generation > generation, WAIT_S, "the stale keys refreshed")

    with pytest.raises(Unauthenticated, match="unknown signing key"):
        verifier.verify(bearer(withdrawn.sign()))
    assert verifier.verify(bearer(kept.sign())).subject == "customer-1"


def test_a_failed_fetch_keeps_the_keys_already_known(idp: IdentityProvider, clock: Clock) -> None:
    key = ec_key()
    idp.document = jwks(key)
    verifier, _ = _verifier(idp, clock)
    verify_waiting(verifier, bearer(key.sign()))

    idp.status = 500
    clock.now += MAX_AGE_S
    assert verify_waiting(verifier, bearer(key.sign(jti="1"))).subject == "customer-1"
    wait_until(lambda: idp.requests == 2, WAIT_S, "the refresh tried")
    assert verify_waiting(verifier, bearer(key.sign(jti="2"))).subject == "customer-1"


def test_a_refetched_set_without_a_usable_key_keeps_the_last_good_one(
    idp: IdentityProvider, clock: Clock, warnings: list[str]
) -> None:
    key = ec_key()
    idp.document = jwks(key)
    verifier, source = _verifier(idp, clock)
    verify_waiting(verifier, bearer(key.sign()))

    idp.document = {"keys": [weak_rsa_key("weak-1").jwk()]}
    clock.now += MAX_AGE_S
    verify_waiting(verifier, bearer(key.sign(jti="1")))
    wait_until(lambda: any("serves no usable signing key" in w for w in warnings), WAIT_S, "the warning")

    assert verifier.verify(bearer(key.sign(jti="2"))).subject == "customer-1"
    assert source.generation == 1
    assert any("kid=weak-1" in w and "RSA key of 1024 bits" in w for w in warnings)


def test_an_unreachable_provider_answers_unknown_key_not_an_error(clock: Clock) -> None:
    source = RemoteJwks("http://127.0.0.1:9/jwks", timeout_s=1.0, clock=clock)
    verifier = TokenVerifier(source, issuer=ISSUER, audience=AUDIENCE, leeway_s=0)

    with pytest.raises(Unauthenticated, match="unknown signing key"):
        verify_waiting(verifier, bearer(ec_key().sign()))


def test_a_fetch_runs_on_a_thread_of_its_own(idp: IdentityProvider, clock: Clock) -> None:
    """Never on the caller's thread, never on a pool that calls or database work share."""
    key = rsa_key()
    idp.document = jwks(key)
    verifier, _ = _verifier(idp, clock)
    fetched_on: list[str] = []
    original = RemoteJwks._download

    def download(source: RemoteJwks) -> bytes:
        fetched_on.append(threading.current_thread().name)
        return original(source)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(RemoteJwks, "_download", download)
        assert verify_waiting(verifier, bearer(key.sign())).subject == "customer-1"

    assert fetched_on == ["jwks-fetch"]


def test_unknown_kids_wait_on_one_fetch_up_to_a_bound_and_the_rest_are_decided_at_once(
    idp: IdentityProvider, clock: Clock
) -> None:
    key = ec_key("rotated")
    idp.document, idp.delay_s = jwks(key), 1.0
    source = RemoteJwks(idp.url, max_waiters=3, clock=clock)
    verifier = TokenVerifier(source, issuer=ISSUER, audience=AUDIENCE, leeway_s=0)

    fetches = [verifier.pending_fetch(bearer(key.sign(jti=str(n)))) for n in range(5)]

    waiting = [fetch for fetch in fetches if fetch is not None]
    assert len(waiting) == 3 and all(fetch is waiting[0] for fetch in waiting)
    assert fetches[3:] == [None, None]  # beyond the bound: decided now, without the key
    with pytest.raises(Unauthenticated, match="unknown signing key"):
        verifier.verify(bearer(key.sign(jti="late")))
    waiting[0].result(timeout=WAIT_S)
    assert verifier.verify(bearer(key.sign(jti="after"))).subject == "customer-1"
    assert idp.requests == 1


def test_a_key_set_over_a_mebibyte_is_refused_and_the_known_keys_kept(
    idp: IdentityProvider, clock: Clock, warnings: list[str]
) -> None:
    key = ec_key()
    idp.document = jwks(key)
    verifier, _ = _verifier(idp, clock)
    verify_waiting(verifier, bearer(key.sign()))

    idp.document = {**jwks(key, ec_key("new")), "padding": "x" * MAX_JWKS_BYTES}
    clock.now += MIN_INTERVAL_S
    with pytest.raises(Unauthenticated, match="unknown signing key"):
        verify_waiting(verifier, bearer(ec_key("new").sign()))

    assert any("larger than" in w for w in warnings)
    assert verifier.verify(bearer(key.sign(jti="1"))).subject == "customer-1"


def test_a_hanging_provider_is_given_up_within_the_fetch_timeout(idp: IdentityProvider, clock: Clock) -> None:
    idp.document, idp.delay_s = jwks(ec_key()), 30.0
    source = RemoteJwks(idp.url, timeout_s=0.5, clock=clock)
    verifier = TokenVerifier(source, issuer=ISSUER, audience=AUDIENCE, leeway_s=0)

    fetch = verifier.pending_fetch(bearer(ec_key("unknown").sign()))
    assert fetch is not None
    fetch.result(timeout=WAIT_S)  # ends (failed, logged), the waiters with it


@pytest.mark.parametrize(
    ("document", "reason"),
    [
        ({"keys": []}, "holds no usable signing key"),
        ({"nothing": "here"}, "not a JWKS document"),
        ({"keys": [], "padding": "x" * MAX_JWKS_BYTES}, "JWKS larger than"),
    ],
    ids=["no keys", "not a JWKS", "over a mebibyte"],
)
def test_a_url_serving_no_usable_key_at_start_is_refused(
    idp: IdentityProvider, document: dict[str, object], reason: str
) -> None:
    idp.document = document

    with pytest.raises(NoUsableKeys, match=reason):
        RemoteJwks(idp.url).load_at_start()


def test_a_url_serving_only_weak_or_hmac_keys_at_start_is_refused_naming_each(idp: IdentityProvider) -> None:
    idp.document = {"keys": [weak_rsa_key("weak-1").jwk(), hmac_jwk("shared-1")]}

    with pytest.raises(NoUsableKeys) as refused:
        RemoteJwks(idp.url).load_at_start()

    assert "kid=weak-1: RSA key, RSA key of 1024 bits (at least 2048 needed)" in str(refused.value)
    assert "kid=shared-1: oct key, verifies none of the allowed algorithms" in str(refused.value)


def test_keys_at_start_need_no_fetch_for_the_first_token(idp: IdentityProvider, clock: Clock) -> None:
    key = ec_key()
    idp.document = jwks(key)
    source = RemoteJwks(idp.url, clock=clock)
    assert source.load_at_start() == 1
    verifier = TokenVerifier(source, issuer=ISSUER, audience=AUDIENCE, leeway_s=0)

    assert verifier.pending_fetch(bearer(key.sign())) is None
    assert verifier.verify(bearer(key.sign())).subject == "customer-1"
    assert idp.requests == 1


def test_a_provider_down_at_start_is_a_warning_and_fetched_on_the_first_token(
    idp: IdentityProvider, clock: Clock, warnings: list[str]
) -> None:
    key = ec_key()
    idp.document, idp.status = jwks(key), 503
    source = RemoteJwks(idp.url, clock=clock)
    assert source.load_at_start() == 0
    assert any("not fetched" in w for w in warnings)

    idp.status = 200
    verifier = TokenVerifier(source, issuer=ISSUER, audience=AUDIENCE, leeway_s=0)
    assert verify_waiting(verifier, bearer(key.sign())).subject == "customer-1"


def test_only_http_urls_are_fetched() -> None:
    with pytest.raises(ValueError, match="http"):
        RemoteJwks("file:///etc/passwd")


def test_once_closed_no_fetch_starts(idp: IdentityProvider, clock: Clock) -> None:
    known = ec_key()
    idp.document = jwks(known)
    verifier, _ = _verifier(idp, clock)
    verify_waiting(verifier, bearer(known.sign()))

    verifier.close()
    clock.now += MAX_AGE_S
    assert verifier.pending_fetch(bearer(known.sign(kid="rotated"))) is None
    assert verifier.pending_fetch(bearer(known.sign())) is None  # stale: no refresh behind it either
    assert idp.requests == 1
