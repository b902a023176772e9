"""Local development keys and tokens (``eshop up --auth``, ``eshop dev-token``): an ES256 key pair made on
the developer's machine, never a key shipped in the code."""

from __future__ import annotations

import json
import os
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

PRIVATE_KEY_FILE = "dev-signing-key.pem"
JWKS_FILE = "dev-jwks.json"
DEV_ISSUER = "eshop-dev"


@dataclass(frozen=True)
class DevKeys:
    private_key_file: Path
    jwks_file: Path
    kid: str


def ensure_dev_keys(directory: Path) -> DevKeys:
    """The dev key pair under ``directory`` (made 0700), generated on first use (both files 0600)."""
    keys = DevKeys(directory / PRIVATE_KEY_FILE, directory / JWKS_FILE, kid="")
    if keys.private_key_file.exists() and keys.jwks_file.exists():
        return DevKeys(keys.private_key_file, keys.jwks_file, _kid_of(keys.jwks_file))
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    private_key = ec.generate_private_key(ec.SECP256R1())
    kid = f"dev-{secrets.token_hex(8)}"
    pem = private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    _write(keys.private_key_file, pem, mode=0o600)
    jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(private_key.public_key()))
    jwk.update(kid=kid, alg="ES256", use="sig")
    # Public, but nobody else's business either: the services that read it run as this user.
    _write(keys.jwks_file, json.dumps({"keys": [jwk]}, indent=2).encode(), mode=0o600)
    return DevKeys(keys.private_key_file, keys.jwks_file, kid)


def mint_token(
    keys: DevKeys,
    *,
    subject: str,
    scopes: list[str] | tuple[str, ...] = (),
    audience: str | Sequence[str],
    issuer: str = DEV_ISSUER,
    ttl_s: int = 3600,
) -> str:
    now = int(time.time())
    aud = audience if isinstance(audience, str) else list(audience)
    claims: dict[str, object] = {"sub": subject, "aud": aud, "iss": issuer, "iat": now, "exp": now + ttl_s}
    if scopes:
        claims["scope"] = " ".join(scopes)
    private_key = serialization.load_pem_private_key(keys.private_key_file.read_bytes(), password=None)
    return jwt.encode(claims, private_key, algorithm="ES256", headers={"kid": keys.kid})  # type: ignore[arg-type]


def write_token_file(path: Path, token: str) -> None:
    """Replace ``path`` with ``token`` in one step (a reader sees the old token or the new one, never
    half of one), readable by its owner only."""
    partial = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
    _write(partial, (token + "\n").encode(), mode=0o600)
    os.replace(partial, path)


def _kid_of(jwks_file: Path) -> str:
    return str(json.loads(jwks_file.read_text())["keys"][0]["kid"])


def _write(path: Path, data: bytes, *, mode: int) -> None:
    # Created with its final mode: the private key is never readable by others, not even for a moment.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    os.fchmod(fd, mode)  # also when the file existed with a wider mode
    with os.fdopen(fd, "wb") as file:
        file.write(data)
