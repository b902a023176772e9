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

from common.printable import printable

# Asymmetric algorithms only: `none` and HMAC are refused, so a public key can never serve as an HMAC
# secret (the classic RS256 -> HS256 confusion).
ALLOWED_ALGORITHMS = ("RS256", "ES256", "EdDSA")
# Smaller RSA keys can be factored by a determined attacker (NIST SP 800-131A retired them): a JWKS
# holding one is a mistake, never a key to trust.
MIN_RSA_BITS = 2048


@dataclass(frozen=True)
class VerificationKey:
    key: Any  # a cryptography public key object
    algorithm: str | None = None  # the JWK's "alg", when the key set pins one

    def accepts(self, algorithm: str) -> bool:
        """Whether a token signed with ``algorithm`` may be checked against this key."""
        if self.algorithm is not None and self.algorithm != algorithm:
            return False
        if algorithm == "RS256":
            return isinstance(self.key, rsa.RSAPublicKey) and self.key.key_size >= MIN_RSA_BITS
        if algorithm == "ES256":
            return isinstance(self.key, ec.EllipticCurvePublicKey) and isinstance(
                self.key.curve, ec.SECP256R1
            )
        if algorithm == "EdDSA":
            return isinstance(self.key, (ed25519.Ed25519PublicKey, ed448.Ed448PublicKey))
        return False

    def unusable_because(self) -> str | None:
        """Why no token could ever verify on this key; None when it can verify an allowed algorithm."""
        if isinstance(self.key, rsa.RSAPublicKey) and self.key.key_size < MIN_RSA_BITS:
            return f"RSA key of {self.key.key_size} bits (at least {MIN_RSA_BITS} needed)"
        if not any(self.accepts(algorithm) for algorithm in ALLOWED_ALGORITHMS):
            return f"verifies none of the allowed algorithms ({', '.join(ALLOWED_ALGORITHMS)})"
        return None


KeyMap = dict[str, VerificationKey]
NOT_A_JWKS = "not a JWKS document (expected a JSON object with a 'keys' list)"


@dataclass(frozen=True)
class KeySet:
    """A key document read: the usable keys by kid, and why each other key was left out."""

    keys: KeyMap
    skipped: tuple[str, ...] = ()

    def warn_skipped(self, origin: str) -> None:
        """One WARNING per key left out, naming its kid and why."""
        for why in self.skipped:
            logger.warning("JWKS from {}: skipped {}", origin, why)

    def no_usable_key(self) -> str:
        """The reason for a start refused on a document without a usable key, in one line."""
        return "holds no usable signing key" + (f" ({'; '.join(self.skipped)})" if self.skipped else "")


def read_jwks(document: bytes) -> KeySet:
    """The signing keys of a JWKS document, and the keys we cannot use (not logged: the caller says
    where they came from, or refuses to start on them)."""
    try:
        entries = json.loads(document)["keys"]
    except (ValueError, KeyError, TypeError) as error:
        raise ValueError(NOT_A_JWKS) from error
    if not isinstance(entries, list):
        raise ValueError(NOT_A_JWKS)
    keys: KeyMap = {}
    skipped: list[str] = []
    for entry in entries:
        parsed = _parse_jwk(entry)
        if isinstance(parsed, str):
            skipped.append(parsed)
        else:
            keys[parsed[0]] = parsed[1]
    return KeySet(keys, tuple(skipped))


def parse_jwks(document: bytes) -> KeyMap:
    """The signing keys of a JWKS document by kid; keys we cannot use are skipped with a warning."""
    key_set = read_jwks(document)
    key_set.warn_skipped("a document")
    return key_set.keys


def _parse_jwk(entry: object) -> tuple[str, VerificationKey] | str:
    """The kid and the key, or why the key is left out."""
    kid = f"kid={_kid_of(entry)}"
    if not isinstance(entry, dict) or entry.get("use", "sig") != "sig" or "d" in entry:
        # An encryption key, or a private key published by mistake: never use it to verify.
        return f"{kid}: not a public signing key"
    alg = entry.get("alg")
    if alg is not None and alg not in ALLOWED_ALGORITHMS:
        return f"{kid}: algorithm {printable(str(alg))} (allowed: {', '.join(ALLOWED_ALGORITHMS)})"
    try:
        jwk = jwt.PyJWK(entry)
    except (jwt.PyJWKError, jwt.InvalidKeyError, ValueError, TypeError) as error:
        return f"{kid}: {type(error).__name__}"
    key = VerificationKey(jwk.key, alg)
    reason = key.unusable_because()
    if reason is not None:
        # An HMAC ("oct") secret, a curve or a size we do not verify: trusting it could only go wrong.
        return f"{kid}: {printable(str(entry.get('kty')))} key, {reason}"
    return str(entry.get("kid", "")), key


def _kid_of(entry: object) -> str:
    """The kid as shown in a message: escaped, and cut short (it comes from a document we fetched)."""
    kid = str(entry.get("kid", "")) if isinstance(entry, dict) else ""
    return printable(kid if len(kid) <= 64 else kid[:64] + "…")


def load_key_file(path: Path) -> KeySet:
    """A JWKS JSON file, or a PEM public key (which then verifies tokens of any kid)."""
    data = path.read_bytes()
    if data.lstrip().startswith(b"-----BEGIN"):
        key = VerificationKey(load_pem_public_key(data))
        reason = key.unusable_because()
        return KeySet({}, (f"the PEM key: {reason}",)) if reason is not None else KeySet({"": key})
    return read_jwks(data)
