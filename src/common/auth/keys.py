"""Verification keys parsed from a JWKS document or a PEM public key; which algorithm each key may verify."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from loguru import logger

# Asymmetric algorithms only: `none` and HMAC are refused, so a public key can never serve as an HMAC
# secret (the classic RS256 -> HS256 confusion).
ALLOWED_ALGORITHMS = ("RS256", "ES256", "EdDSA")


@dataclass(frozen=True)
class VerificationKey:
    key: Any  # a cryptography public key object
    algorithm: str | None = None  # the JWK's "alg", when the key set pins one

    def accepts(self, algorithm: str) -> bool:
        """Whether a token signed with ``algorithm`` may be checked against this key."""
        if self.algorithm is not None and self.algorithm != algorithm:
            return False
        if algorithm == "RS256":
            return isinstance(self.key, rsa.RSAPublicKey)
        if algorithm == "ES256":
            return isinstance(self.key, ec.EllipticCurvePublicKey) and isinstance(
                self.key.curve, ec.SECP256R1
            )
        if algorithm == "EdDSA":
            return isinstance(self.key, (ed25519.Ed25519PublicKey, ed448.Ed448PublicKey))
        return False


KeyMap = dict[str, VerificationKey]


def parse_jwks(document: bytes) -> KeyMap:
    """The signing keys of a JWKS document by kid; keys we cannot use are skipped with a warning."""
    try:
        entries = json.loads(document)["keys"]
    except (ValueError, KeyError, TypeError) as error:
        raise ValueError("not a JWKS document (expected a JSON object with a 'keys' list)") from error
    if not isinstance(entries, list):
        raise ValueError("not a JWKS document (expected a JSON object with a 'keys' list)")
    keys: KeyMap = {}
    for entry in entries:
        parsed = _parse_jwk(entry)
        if parsed is not None:
            keys[parsed[0]] = parsed[1]
    return keys


def _parse_jwk(entry: object) -> tuple[str, VerificationKey] | None:
    if not isinstance(entry, dict) or entry.get("use", "sig") != "sig" or "d" in entry:
        # An encryption key, or a private key published by mistake: never use it to verify.
        logger.warning("JWKS: skipped a key that is not a public signing key (kid={})", _kid_of(entry))
        return None
    alg = entry.get("alg")
    if alg is not None and alg not in ALLOWED_ALGORITHMS:
        logger.warning(
            "JWKS: skipped kid={} with algorithm {} (allowed: {})", _kid_of(entry), alg, ALLOWED_ALGORITHMS
        )
        return None
    try:
        jwk = jwt.PyJWK(entry)
    except (jwt.PyJWKError, jwt.InvalidKeyError, ValueError, TypeError) as error:
        logger.warning("JWKS: skipped kid={}: {}", _kid_of(entry), type(error).__name__)
        return None
    return str(entry.get("kid", "")), VerificationKey(jwk.key, alg)


def _kid_of(entry: object) -> str:
    return str(entry.get("kid", "")) if isinstance(entry, dict) else ""


def load_key_file(path: Path) -> KeyMap:
    """A JWKS JSON file, or a PEM public key (which then verifies tokens of any kid)."""
    data = path.read_bytes()
    if data.lstrip().startswith(b"-----BEGIN"):
        return {"": VerificationKey(load_pem_public_key(data))}
    return parse_jwks(data)
