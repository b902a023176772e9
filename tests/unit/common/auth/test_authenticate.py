"""The per-call step: metadata and certificate -> principal (or none), and the authenticator built from
settings."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from common import configuration
from common.auth.authenticate import Authenticator, authenticator_from, authorization_from
from common.auth.key_sources import StaticKeys
from common.auth.keys import parse_jwks
from common.auth.principal import AuthMethod, Principal
from common.auth.tokens import TokenVerifier
from common.errors import Unauthenticated
from product.settings import ProductSettings
from tests.support.signing import AUDIENCE, ISSUER, SigningKey, bearer, ec_key, jwks

CERT = {"x509_subject_alternative_name": [b"spiffe://eshop/order"], "x509_common_name": [b"order"]}
NO_CERT: dict[str, list[bytes]] = {}


@pytest.fixture(scope="module")
def key() -> SigningKey:
    return ec_key()


@pytest.fixture(scope="module")
def authenticator(key: SigningKey) -> Authenticator:
    source = StaticKeys(parse_jwks(json.dumps(jwks(key)).encode()))
    return Authenticator(TokenVerifier(source, issuer=ISSUER, audience=AUDIENCE, leeway_s=0))


@pytest.mark.parametrize(
    ("metadata", "expected"),
    [
        (None, None),
        ((("x-correlation-id", "c"),), None),
        ((("authorization", "Bearer t"), ("x-correlation-id", "c")), "Bearer t"),
        ((("authorization", b"Bearer t"),), "Bearer t"),
    ],
)
def test_the_authorization_value_is_read_from_metadata(
    metadata: tuple[tuple[str, str | bytes], ...] | None, expected: str | None
) -> None:
    assert authorization_from(metadata) == expected


def test_two_authorization_values_are_refused() -> None:
    with pytest.raises(Unauthenticated, match="more than one"):
        authorization_from((("authorization", "Bearer a"), ("authorization", "Bearer b")))


def test_a_token_over_a_certificate_carries_both(authenticator: Authenticator, key: SigningKey) -> None:
    principal = authenticator.authenticate(bearer(key.sign(scope="")), CERT)

    assert principal == Principal(
        "customer-1", frozenset(), AuthMethod.BEARER_TOKEN, frozenset({"spiffe://eshop/order"})
    )


def test_a_certificate_alone_is_a_principal(authenticator: Authenticator) -> None:
    assert authenticator.authenticate(None, CERT) == Principal.from_peer(frozenset({"spiffe://eshop/order"}))


def test_neither_token_nor_certificate_is_no_principal(authenticator: Authenticator) -> None:
    assert authenticator.authenticate(None, NO_CERT) is None


def test_a_bad_token_is_refused_even_over_a_good_certificate(
    authenticator: Authenticator, key: SigningKey
) -> None:
    with pytest.raises(Unauthenticated, match="wrong audience"):
        authenticator.authenticate(bearer(key.sign(aud="elsewhere")), CERT)


def test_auth_off_builds_no_authenticator() -> None:
    assert authenticator_from(ProductSettings()) is None


def test_auth_required_verifies_with_the_configured_file(key: SigningKey, tmp_path: Path) -> None:
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps(jwks(key)))
    settings = ProductSettings(auth_mode="required", auth_jwks_file=path, auth_issuer=ISSUER)
    authenticator = authenticator_from(settings)
    assert authenticator is not None

    principal = authenticator.authenticate(bearer(key.sign(aud="eshop-product")), NO_CERT)
    assert principal is not None and principal.subject == "customer-1"
    assert authenticator.pending_fetch(bearer(key.sign(kid="other"))) is None  # a file is never fetched


def test_auth_required_with_a_url_that_cannot_be_reached_at_start_fetches_when_a_token_asks(
    key: SigningKey,
) -> None:
    settings = ProductSettings(
        auth_mode="required", auth_jwks_url="http://127.0.0.1:9/jwks", auth_issuer=ISSUER
    )
    authenticator = authenticator_from(settings)  # a WARNING, not a refusal: the provider may come later
    assert authenticator is not None

    fetch = authenticator.pending_fetch(bearer(key.sign()))
    assert fetch is not None
    fetch.result(timeout=10)
    assert authenticator.pending_fetch(None) is None


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (None, "No such file or directory"),
        (b"{not json", "not a JWKS document"),
        (b'{"keys": [{"kty": "oct", "k": "c2VjcmV0", "alg": "HS256"}]}', "holds no usable signing key"),
    ],
    ids=["missing", "not a JWKS", "only an HMAC key"],
)
def test_an_unusable_key_file_is_a_configuration_problem_naming_its_variable(
    tmp_path: Path, content: bytes | None, reason: str
) -> None:
    path = tmp_path / "jwks.json"
    if content is not None:
        path.write_bytes(content)
    settings = ProductSettings(auth_mode="required", auth_jwks_file=path, auth_issuer=ISSUER)

    with pytest.raises(configuration.ConfigurationError) as refused:
        authenticator_from(settings)

    [problem] = refused.value.problems
    assert problem.startswith(f"PRODUCT_AUTH_JWKS_FILE='{path}': ")
    assert reason in problem
