"""Bearer JWT verification: every way a token can be wrong gets UNAUTHENTICATED with its own reason,
never echoing the token; valid RS256/ES256/EdDSA tokens become principals."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from loguru import logger

from common.auth.key_sources import StaticKeys
from common.auth.keys import load_key_file, parse_jwks
from common.auth.principal import AuthMethod, Principal
from common.auth.tokens import TokenVerifier
from common.errors import ErrorCode, Unauthenticated
from tests.support.signing import (
    AUDIENCE,
    ISSUER,
    SigningKey,
    bearer,
    ec_key,
    ed_key,
    hmac_jwk,
    jwks,
    rsa_key,
    unsigned,
    valid_claims,
    weak_rsa_key,
)

SKEW_S = 30


@dataclass(frozen=True)
class Keys:
    rsa: SigningKey
    ec: SigningKey
    ed: SigningKey
    impostor: SigningKey  # same kid as ``ec``, another key: its signatures must not verify


@pytest.fixture(scope="module")
def keys() -> Keys:
    return Keys(rsa_key(), ec_key(), ed_key(), ec_key(kid="ec-1"))


@pytest.fixture(scope="module")
def verifier(keys: Keys) -> TokenVerifier:
    source = StaticKeys(parse_jwks(json.dumps(jwks(keys.rsa, keys.ec, keys.ed)).encode()))
    return TokenVerifier(source, issuer=ISSUER, audience=AUDIENCE, leeway_s=SKEW_S)


def _now() -> int:
    return int(time.time())


def _hs256_with_public_key(keys: Keys) -> str:
    header = {"alg": "HS256", "typ": "JWT", "kid": keys.rsa.kid}
    return bearer(unsigned(header, valid_claims(), secret=keys.rsa.public_pem()))


def _tampered(keys: Keys) -> str:
    """A genuine signature over other claims (the scope raised to orders:admin)."""
    header, _, signature = keys.ec.sign().split(".")
    forged_claims = keys.ec.sign(scope="orders:admin").split(".")[1]
    return bearer(f"{header}.{forged_claims}.{signature}")


REFUSED: list[tuple[str, Callable[[Keys], str | None], str]] = [
    ("no header", lambda k: None, "missing credentials"),
    ("empty header", lambda k: "", "missing credentials"),
    ("not bearer", lambda k: f"Basic {k.ec.sign()}", "malformed token"),
    ("bearer without token", lambda k: "Bearer ", "malformed token"),
    ("garbage token", lambda k: "Bearer not.a.jwt", "malformed token"),
    ("two segments", lambda k: "Bearer abc.def", "malformed token"),
    ("bad signature (another key, same kid)", lambda k: bearer(k.impostor.sign()), "bad signature"),
    ("tampered claims", _tampered, "bad signature"),
    ("expired", lambda k: bearer(k.ec.sign(exp=_now() - SKEW_S - 60)), "token expired"),
    ("not yet valid", lambda k: bearer(k.ec.sign(nbf=_now() + SKEW_S + 60)), "token not yet valid"),
    ("wrong audience", lambda k: bearer(k.ec.sign(aud="eshop-order")), "wrong audience"),
    ("wrong issuer", lambda k: bearer(k.ec.sign(iss="https://evil.test")), "wrong issuer"),
    ("unknown kid", lambda k: bearer(k.ec.sign(kid="nobody")), "unknown signing key"),
    (
        "alg none",
        lambda k: bearer(unsigned({"alg": "none", "kid": k.ec.kid}, valid_claims())),
        "algorithm not allowed",
    ),
    ("HS256 signed with the public key", _hs256_with_public_key, "algorithm not allowed"),
    (
        "ES256 header on an RSA key",
        lambda k: bearer(k.ec.sign(kid=k.rsa.kid)),
        "algorithm not allowed for this",
    ),
    ("no exp", lambda k: bearer(k.ec.sign({"exp": None})), "token lacks the 'exp' claim"),
    ("no sub", lambda k: bearer(k.ec.sign({"sub": None})), "token lacks the 'sub' claim"),
    ("scope not a string", lambda k: bearer(k.ec.sign(scope=["a", "b"])), "malformed token"),
]


@pytest.mark.parametrize(
    ("build", "reason"), [(b, r) for _, b, r in REFUSED], ids=[name for name, _, _ in REFUSED]
)
def test_a_bad_token_is_refused_with_its_reason_and_never_echoed(
    keys: Keys, verifier: TokenVerifier, build: Callable[[Keys], str | None], reason: str
) -> None:
    authorization = build(keys)

    with pytest.raises(Unauthenticated) as refused:
        verifier.verify(authorization)

    assert refused.value.code is ErrorCode.UNAUTHENTICATED
    assert refused.value.message.startswith(reason)
    token = (authorization or "").removeprefix("Bearer ").removeprefix("Basic ")
    for part in token.split("."):
        assert len(part) < 8 or part not in refused.value.message


@pytest.mark.parametrize("which", ["rsa", "ec", "ed"])
def test_a_valid_token_of_each_algorithm_is_the_principal_it_names(
    keys: Keys, verifier: TokenVerifier, which: str
) -> None:
    key: SigningKey = getattr(keys, which)

    principal = verifier.verify(bearer(key.sign(sub="customer-7", scope="catalog:write  stock:reserve")))

    assert principal == Principal(
        subject="customer-7",
        scopes=frozenset({"catalog:write", "stock:reserve"}),
        method=AuthMethod.BEARER_TOKEN,
    )


def test_a_token_without_scope_has_no_scopes(keys: Keys, verifier: TokenVerifier) -> None:
    assert verifier.verify(bearer(keys.ec.sign({"scope": None}))).scopes == frozenset()


def test_the_scheme_is_case_insensitive(keys: Keys, verifier: TokenVerifier) -> None:
    assert verifier.verify(f"bearer {keys.ec.sign()}").subject == "customer-1"


@pytest.mark.parametrize(
    ("claims", "accepted"),
    [
        ({"exp": "past:10"}, True),
        ({"exp": "past:60"}, False),
        ({"nbf": "future:10"}, True),
        ({"nbf": "future:60"}, False),
    ],
)
def test_clock_skew_is_forgiven_up_to_the_leeway_on_both_sides(
    keys: Keys, verifier: TokenVerifier, claims: dict[str, str], accepted: bool
) -> None:
    ((claim, spec),) = claims.items()
    direction, seconds = spec.split(":")
    offset = int(seconds) if direction == "future" else -int(seconds)
    # 30 s leeway: 10 s off is forgiven, 60 s is not.
    authorization = bearer(keys.ec.sign({claim: _now() + offset}))

    if accepted:
        assert verifier.verify(authorization).subject == "customer-1"
    else:
        with pytest.raises(Unauthenticated):
            verifier.verify(authorization)


def test_a_pem_public_key_verifies_tokens_whatever_their_kid(keys: Keys, tmp_path: Path) -> None:
    pem = tmp_path / "idp.pem"
    pem.write_bytes(keys.rsa.public_pem())
    verifier = TokenVerifier(StaticKeys.from_file(pem), issuer=ISSUER, audience=AUDIENCE, leeway_s=0)

    assert verifier.verify(bearer(keys.rsa.sign(kid="anything"))).subject == "customer-1"
    with pytest.raises(Unauthenticated, match="algorithm not allowed for this"):
        verifier.verify(bearer(keys.ec.sign()))


def test_a_jwks_file_skips_private_and_encryption_keys(keys: Keys, tmp_path: Path) -> None:
    leaked = json.loads(json.dumps(keys.ec.jwk()))
    leaked["d"] = "AAAA"
    encryption = {**keys.rsa.jwk(), "use": "enc"}
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps({"keys": [leaked, encryption, keys.ed.jwk()]}))
    verifier = TokenVerifier(StaticKeys.from_file(path), issuer=ISSUER, audience=AUDIENCE, leeway_s=0)

    assert verifier.verify(bearer(keys.ed.sign())).subject == "customer-1"
    for refused in (keys.ec, keys.rsa):
        with pytest.raises(Unauthenticated, match="unknown signing key"):
            verifier.verify(bearer(refused.sign()))


@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")  # signing with the weak key
def test_weak_and_unusable_keys_are_dropped_with_one_warning_naming_each(keys: Keys, tmp_path: Path) -> None:
    """RSA under 2048 bits, an HMAC secret without "alg", a curve ES256 does not use: none is trusted."""
    weak = weak_rsa_key("weak-1")
    p384 = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(ec.generate_private_key(ec.SECP384R1()).public_key()))
    document = {"keys": [weak.jwk(), hmac_jwk("shared-1"), {**p384, "kid": "p384-1"}, keys.ed.jwk()]}
    warnings: list[str] = []
    sink = logger.add(lambda message: warnings.append(str(message)), format="{message}", level="WARNING")
    try:
        parsed = parse_jwks(json.dumps(document).encode())
    finally:
        logger.remove(sink)

    assert set(parsed) == {keys.ed.kid}
    assert len(warnings) == 3
    for kid, why in [
        ("weak-1", "RSA key of 1024 bits (at least 2048 needed)"),
        ("shared-1", "oct key, verifies none of the allowed algorithms"),
        ("p384-1", "EC key, verifies none of the allowed algorithms"),
    ]:
        assert [w for w in warnings if f"kid={kid}" in w and why in w], warnings
    verifier = TokenVerifier(StaticKeys(parsed), issuer=ISSUER, audience=AUDIENCE, leeway_s=0)
    with pytest.raises(Unauthenticated, match="unknown signing key"):
        verifier.verify(bearer(weak.sign()))


def test_a_pem_file_holding_a_weak_rsa_key_holds_no_usable_key(tmp_path: Path) -> None:
    pem = tmp_path / "weak.pem"
    pem.write_bytes(weak_rsa_key().public_pem())

    key_set = load_key_file(pem)

    assert key_set.keys == {}
    assert key_set.no_usable_key() == (
        "holds no usable signing key (the PEM key: RSA key of 1024 bits (at least 2048 needed))"
    )
