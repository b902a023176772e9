"""The edges of a token an attacker probes: claims the verifier cannot represent, dates that are not
numbers, scopes joined by look-alike blanks, oversized or odd headers. Each is UNAUTHENTICATED with a
reason (never INTERNAL), or a principal holding exactly what the token says."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import jwt
import pytest

from common.auth.key_sources import StaticKeys
from common.auth.keys import parse_jwks
from common.auth.tokens import MAX_HEADER_CHARS, TokenVerifier
from common.errors import Unauthenticated
from tests.support.identity_provider import serving_jwks, verify_waiting
from tests.support.signing import AUDIENCE, ISSUER, SigningKey, bearer, ec_key, jwks, valid_claims


@pytest.fixture(scope="module")
def key() -> SigningKey:
    return ec_key()


@pytest.fixture(scope="module")
def verifier(key: SigningKey) -> TokenVerifier:
    source = StaticKeys(parse_jwks(json.dumps(jwks(key)).encode()))
    return TokenVerifier(source, issuer=ISSUER, audience=AUDIENCE, leeway_s=30)


def _later(seconds: int = 300) -> int:
    return int(time.time()) + seconds


UNREPRESENTABLE: dict[str, dict[str, Any]] = {
    "exp of 400 digits": {"exp": 10**400},
    "exp as a numeric string": {"exp": str(_later())},
    "exp as true": {"exp": True},
    "iat as a numeric string": {"iat": str(int(time.time()))},
    "nbf as a numeric string": {"nbf": str(int(time.time()))},
    "nbf of 400 digits": {"nbf": -(10**400)},
}


@pytest.mark.parametrize("claims", UNREPRESENTABLE.values(), ids=list(UNREPRESENTABLE))
def test_a_date_that_is_no_number_the_verifier_can_hold_is_unauthenticated(
    key: SigningKey, verifier: TokenVerifier, claims: dict[str, Any]
) -> None:
    """RFC 7519 NumericDate is a JSON number; a string, a boolean or one beyond a float is refused."""
    with pytest.raises(Unauthenticated) as refused:
        verifier.verify(bearer(key.sign(claims)))

    assert refused.value.message.startswith(("malformed token", "token expired"))


def test_dates_that_are_numbers_with_fractions_are_accepted(key: SigningKey, verifier: TokenVerifier) -> None:
    now = time.time()
    token = bearer(key.sign(iat=now - 0.5, nbf=now - 0.5, exp=now + 300.25))

    assert verifier.verify(token).subject == "customer-1"


@pytest.mark.parametrize(
    ("scope", "scopes"),
    [
        ("catalog:write stock:reserve", {"catalog:write", "stock:reserve"}),
        ("  catalog:write   stock:reserve ", {"catalog:write", "stock:reserve"}),
        ("x\u00a0catalog:write", {"x\u00a0catalog:write"}),  # a no-break space joins, never separates
        ("x\x1fcatalog:write", {"x\x1fcatalog:write"}),
        ("x\tcatalog:write", {"x\tcatalog:write"}),
        ("x\ncatalog:write", {"x\ncatalog:write"}),
        ("x\u2003catalog:write", {"x\u2003catalog:write"}),
    ],
    ids=["space", "runs of spaces", "no-break space", "unit separator", "tab", "line feed", "em space"],
)
def test_scopes_are_separated_by_the_space_character_only(
    key: SigningKey, verifier: TokenVerifier, scope: str, scopes: set[str]
) -> None:
    """RFC 6749 section 3.3: scope-tokens are separated by U+0020, nothing else."""
    assert verifier.verify(bearer(key.sign(scope=scope))).scopes == scopes


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def test_an_authorization_value_over_the_limit_is_refused_before_it_is_decoded(
    key: SigningKey, verifier: TokenVerifier
) -> None:
    padded = key.sign(padding="x" * MAX_HEADER_CHARS)

    with pytest.raises(Unauthenticated, match="malformed token: larger than"):
        verifier.verify(bearer(padded))


def test_a_token_naming_an_unknown_key_is_refused_on_its_header_alone(
    key: SigningKey, verifier: TokenVerifier
) -> None:
    """The key is chosen from the header; the payload and signature are decoded once, by the signature
    check, and never for a token no key can check (its payload here is not even base64)."""
    header = _b64(json.dumps({"alg": "ES256", "kid": "nobody"}).encode())

    with pytest.raises(Unauthenticated, match="unknown signing key"):
        verifier.verify(f"Bearer {header}.!!not-base64!!.!!")


@pytest.mark.parametrize(
    "header",
    [
        b"[" * 5000 + b"]" * 5000,
        b'"just a string"',
        b'{"alg": 7}',
        b'{"alg": "ES256", "kid": 7}',
        b"\xff\xfe",
        b'{"alg": "ES256", "kid": "' + b"k" * 2000 + b'"}',
    ],
    ids=["deeply nested", "not an object", "alg not a string", "kid not a string", "not utf-8", "too long"],
)
def test_a_header_that_is_no_jose_header_is_malformed(verifier: TokenVerifier, header: bytes) -> None:
    with pytest.raises(Unauthenticated, match="malformed token"):
        verifier.verify(f"Bearer {_b64(header)}.{_b64(b'{}')}.c2ln")


@pytest.mark.parametrize(
    "token", ["a.b", "a.b.c.d", "..", "a..c"], ids=["2 parts", "4 parts", "empty", "empty payload"]
)
def test_a_token_without_three_parts_is_malformed(verifier: TokenVerifier, token: str) -> None:
    with pytest.raises(Unauthenticated, match="malformed token"):
        verifier.verify(f"Bearer {token}")


def test_a_claim_named_twice_counts_once_the_last_time(key: SigningKey, verifier: TokenVerifier) -> None:
    """RFC 7519 section 4 lets a parser take the last of duplicate claim names; the signature covers the
    bytes, so only the identity provider can make such a token, and we read it as every JSON parser of
    Python does."""
    claims = json.dumps(valid_claims(aud=AUDIENCE))[:-1] + ', "sub": "second", "scope": "catalog:write"}'
    token = jwt.api_jws.encode(claims.encode(), key.private, algorithm="ES256", headers={"kid": key.kid})

    principal = verifier.verify(bearer(token))

    assert principal.subject == "second" and principal.scopes == {"catalog:write"}


@pytest.mark.parametrize("field", ["jku", "x5u", "jwk", "x5c"])
@pytest.mark.parametrize("kid", ["trusted", "the attacker's"])
def test_keys_a_token_brings_along_are_never_used_or_fetched(
    key: SigningKey, verifier: TokenVerifier, field: str, kid: str
) -> None:
    """Only the configured keys verify: a header pointing at (jku, x5u) or carrying (jwk, x5c) the
    attacker's own key is not looked at, let alone fetched."""
    attacker = ec_key("evil-1")
    with serving_jwks() as attackers_server:
        attackers_server.document = jwks(attacker)
        brought = {
            "jku": attackers_server.url,
            "x5u": attackers_server.url,
            "jwk": attacker.jwk(),
            "x5c": [base64.b64encode(attacker.public_pem()).decode()],
        }[field]
        headers = {"kid": key.kid if kid == "trusted" else attacker.kid, field: brought}
        token = jwt.encode(valid_claims(scope="orders:admin"), attacker.private, "ES256", headers=headers)

        with pytest.raises(Unauthenticated) as refused:
            verify_waiting(verifier, bearer(token))

        assert refused.value.message == ("bad signature" if kid == "trusted" else "unknown signing key")
        assert attackers_server.requests == 0
