"""Keys made in the test run and tokens signed with them (no key lives in the repository); shared by the
unit and the integration tests of authentication."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from dataclasses import dataclass
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

ISSUER = "https://idp.test"
AUDIENCE = "eshop-product"


@dataclass(frozen=True)
class SigningKey:
    kid: str
    algorithm: str
    private: Any

    def jwk(self) -> dict[str, Any]:
        jwk: dict[str, Any] = json.loads(
            jwt.get_algorithm_by_name(self.algorithm).to_jwk(self.private.public_key())
        )
        jwk.update(kid=self.kid, use="sig", alg=self.algorithm)
        return jwk

    def public_pem(self) -> bytes:
        return bytes(
            self.private.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        )

    def sign(self, claims: dict[str, Any] | None = None, *, kid: str | None = None, **overrides: Any) -> str:
        merged = {**valid_claims(), **(claims or {}), **overrides}
        return jwt.encode(
            {name: value for name, value in merged.items() if value is not None},  # None: leave the claim out
            self.private,
            algorithm=self.algorithm,
            headers={"kid": self.kid if kid is None else kid},
        )


def rsa_key(kid: str = "rsa-1") -> SigningKey:
    return SigningKey(kid, "RS256", rsa.generate_private_key(public_exponent=65537, key_size=2048))


def weak_rsa_key(kid: str = "rsa-weak") -> SigningKey:
    """1024 bits: a key no JWKS may get trusted with."""
    return SigningKey(kid, "RS256", rsa.generate_private_key(public_exponent=65537, key_size=1024))


def hmac_jwk(kid: str = "oct-1") -> dict[str, Any]:
    """A shared secret published as a JWK without ``alg``: no token can be verified with it here."""
    return {"kty": "oct", "kid": kid, "use": "sig", "k": _b64(b"a shared secret of 32 bytes!!!!!")}


def ec_key(kid: str = "ec-1") -> SigningKey:
    return SigningKey(kid, "ES256", ec.generate_private_key(ec.SECP256R1()))


def ed_key(kid: str = "ed-1") -> SigningKey:
    return SigningKey(kid, "EdDSA", ed25519.Ed25519PrivateKey.generate())


def jwks(*keys: SigningKey) -> dict[str, Any]:
    return {"keys": [key.jwk() for key in keys]}


def valid_claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    claims: dict[str, Any] = {
        "sub": "customer-1",
        "iss": ISSUER,
        "aud": AUDIENCE,
        "iat": now,
        "exp": now + 300,
        "scope": "catalog:write stock:reserve",
    }
    return {**claims, **overrides}


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unsigned(header: dict[str, Any], claims: dict[str, Any], secret: bytes | None = None) -> str:
    """A token built by hand: ``alg=none`` (no signature) or HS256 with ``secret`` as the HMAC key."""
    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"
    if secret is None:
        return signing_input + "."
    signature = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(signature)}"


def bearer(token: str) -> str:
    return f"Bearer {token}"
