"""Bearer JWT verification: ``authorization: Bearer <token>`` -> Principal, or Unauthenticated with a reason.

``verify`` does no I/O. When the token names a key the source does not hold yet, ``pending_fetch`` hands
back the key fetch to wait for (never blocking itself): the auth interceptor awaits it, then verifies.
Error messages name what is wrong and never echo the token, its kid or any key.
"""

from __future__ import annotations

import binascii
import contextlib
import json
import math
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

import jwt
from jwt.utils import base64url_decode

from common.auth.key_sources import KeySource
from common.auth.keys import ALLOWED_ALGORITHMS
from common.auth.principal import AuthMethod, Principal
from common.auth.verified_tokens import VerifiedTokens
from common.errors import Unauthenticated

METADATA_KEY = "authorization"
# The whole authorization value, refused above this before any other work (tokens of real identity
# providers stay well under it; a padded one must not buy seconds of base64 and JSON).
MAX_HEADER_CHARS = 8192
# The token's JOSE header (its first segment), read before the key is chosen: a few hundred characters
# from real providers; bounded so that reading it stays cheap whatever the caller pads it with.
MAX_JOSE_HEADER_CHARS = 2048
MISSING = "missing credentials: send 'authorization: Bearer <token>'"
MALFORMED = "malformed token"
# RFC 7519 NumericDate claims: JSON numbers, which the verifier holds as floats.
NUMERIC_DATES = ("exp", "nbf", "iat")

# Most specific first: InvalidSignatureError is a DecodeError, ExpiredSignatureError an InvalidTokenError.
_REASONS: tuple[tuple[type[jwt.PyJWTError], str], ...] = (
    (jwt.ExpiredSignatureError, "token expired"),
    (jwt.ImmatureSignatureError, "token not yet valid"),
    (jwt.InvalidAudienceError, "wrong audience"),
    (jwt.InvalidIssuerError, "wrong issuer"),
    (jwt.InvalidSignatureError, "bad signature"),
    (jwt.InvalidAlgorithmError, "algorithm not allowed"),
    (jwt.DecodeError, MALFORMED),
)


@dataclass(frozen=True)
class _Header:
    token: str
    kid: str | None
    algorithm: str


class TokenVerifier:
    def __init__(
        self,
        keys: KeySource,
        *,
        issuer: str,
        audience: str,
        leeway_s: float,
        verified: VerifiedTokens | None = None,
    ) -> None:
        self._keys = keys
        self._issuer = issuer
        self._audience = audience
        self._leeway = leeway_s
        self._verified = VerifiedTokens() if verified is None else verified

    def pending_fetch(self, authorization: str | None) -> Future[None] | None:
        """No I/O, never blocks: the key fetch to wait for before ``verify`` decides on this token, or
        None when it can decide now (a known key, a bad token, or a fetch that cannot help)."""
        if self._cached(authorization) is not None:
            return None
        try:
            header = _read_header(authorization)
        except Unauthenticated:
            return None
        if header.algorithm not in ALLOWED_ALGORITHMS:
            return None
        return self._keys.fetch_for(header.kid)

    def close(self) -> None:
        """The key source stops fetching (see ``KeySource.close``)."""
        self._keys.close()

    def verify(self, authorization: str | None) -> Principal:
        """No I/O: the principal the token proves, or Unauthenticated naming the reason."""
        cached = self._cached(authorization)
        if cached is not None:
            return cached
        generation = self._keys.generation  # before the lookup: a concurrent refresh then drops the entry
        header = _read_header(authorization)
        if header.algorithm not in ALLOWED_ALGORITHMS:
            raise Unauthenticated("algorithm not allowed")
        key = self._keys.key(header.kid)
        if key is None:
            raise Unauthenticated("unknown signing key")
        if not key.accepts(header.algorithm):
            raise Unauthenticated("algorithm not allowed for this signing key")
        claims = self._decode(header, key.key)
        expires_at = _numeric_dates(claims)["exp"] + self._leeway
        principal = _principal(claims)
        self._verified.put(header.token, principal, expires_at=expires_at, key_generation=generation)
        return principal

    def _cached(self, authorization: str | None) -> Principal | None:
        if not authorization or len(authorization) > MAX_HEADER_CHARS:
            return None
        scheme, _, token = authorization.strip().partition(" ")
        if scheme.lower() != "bearer":
            return None
        return self._verified.get(token.strip(), self._keys.generation)

    def _decode(self, header: _Header, key: Any) -> dict[str, Any]:
        try:
            claims: dict[str, Any] = jwt.decode(
                header.token,
                key,
                algorithms=[header.algorithm],
                audience=self._audience,
                issuer=self._issuer,
                leeway=self._leeway,
                options={"require": ["exp", "iss", "aud", "sub"]},
            )
        except jwt.MissingRequiredClaimError as error:
            raise Unauthenticated(f"token lacks the '{error.claim}' claim") from None
        except jwt.PyJWTError as error:
            raise Unauthenticated(_reason(error)) from None
        except (ValueError, TypeError, OverflowError, RecursionError):
            # Whatever else the library trips over in a signed token is still the token's fault.
            raise Unauthenticated(MALFORMED) from None
        return claims


def _reason(error: jwt.PyJWTError) -> str:
    for kind, reason in _REASONS:
        if isinstance(error, kind):
            return reason
    return "invalid token"


def _read_header(authorization: str | None) -> _Header:
    """The token and the two header fields that choose its key. Only the header segment is decoded
    here; the payload and the signature are decoded once, by the signature check."""
    if not authorization:
        raise Unauthenticated(MISSING)
    if len(authorization) > MAX_HEADER_CHARS:
        raise Unauthenticated(f"{MALFORMED}: larger than {MAX_HEADER_CHARS} characters")
    scheme, _, token = authorization.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise Unauthenticated(f"{MALFORMED}: expected 'Bearer <token>'")
    segments = token.split(".")
    if len(segments) != 3 or not all(segments[:2]) or len(segments[0]) > MAX_JOSE_HEADER_CHARS:
        raise Unauthenticated(MALFORMED)
    try:
        header = json.loads(base64url_decode(segments[0]))
    except (ValueError, binascii.Error, RecursionError):  # UnicodeDecodeError is a ValueError
        raise Unauthenticated(MALFORMED) from None
    if not isinstance(header, dict):
        raise Unauthenticated(MALFORMED)
    kid, algorithm = header.get("kid"), header.get("alg")
    if not isinstance(algorithm, str) or (kid is not None and not isinstance(kid, str)):
        raise Unauthenticated(MALFORMED)
    return _Header(token, kid, algorithm)


def _numeric_dates(claims: dict[str, Any]) -> dict[str, float]:
    """The date claims as floats; a string, a boolean or a number beyond a float is malformed (the
    library would take "123" and fail with an OverflowError on 400 digits)."""
    dates: dict[str, float] = {}
    for name in NUMERIC_DATES:
        if name not in claims:
            continue
        value, number = claims[name], math.nan
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            with contextlib.suppress(OverflowError):
                number = float(value)
        if not math.isfinite(number):
            raise Unauthenticated(f"{MALFORMED}: '{name}' must be a number of seconds")
        dates[name] = number
    return dates


def _principal(claims: dict[str, Any]) -> Principal:
    subject, scope = claims["sub"], claims.get("scope", "")
    if not isinstance(subject, str) or not subject or not isinstance(scope, str):
        raise Unauthenticated(
            f"{MALFORMED}: 'sub' must be a non-empty string and 'scope' a space-separated string"
        )
    # RFC 6749 3.3: scope-tokens are separated by the space character only. str.split() would also
    # split on a no-break space or a control character, so "x\u00a0catalog:write" would grant a scope.
    scopes = frozenset(part for part in scope.split(" ") if part)
    return Principal(subject=subject, scopes=scopes, method=AuthMethod.BEARER_TOKEN)
