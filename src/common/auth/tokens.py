"""Bearer JWT verification: ``authorization: Bearer <token>`` -> Principal, or Unauthenticated with a reason.

``verify`` does no I/O. When the token names a key the source does not hold yet, ``needs_fetch`` says so
and ``fetch_keys`` (blocking) brings it; ``verify_blocking`` chains the two for a thread-pool server.
Error messages name what is wrong and never echo the token, its kid or any key.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import jwt

from common.auth.key_sources import KeySource
from common.auth.keys import ALLOWED_ALGORITHMS
from common.auth.principal import AuthMethod, Principal
from common.auth.verified_tokens import VerifiedTokens
from common.errors import Unauthenticated

METADATA_KEY = "authorization"
MAX_HEADER_CHARS = 8192
MISSING = "missing credentials: send 'authorization: Bearer <token>'"
MALFORMED = "malformed token"

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

    def needs_fetch(self, authorization: str | None) -> bool:
        """No I/O: whether ``fetch_keys`` should run before ``verify`` can decide on this token."""
        if self._cached(authorization) is not None:
            return False
        try:
            header = _read_header(authorization)
        except Unauthenticated:
            return False
        return header.algorithm in ALLOWED_ALGORITHMS and self._keys.wants_fetch(header.kid)

    def fetch_keys(self) -> None:
        """Blocking (an HTTP request for a JWKS URL): run it in a thread from an event loop."""
        self._keys.fetch()

    def verify_blocking(self, authorization: str | None) -> Principal:
        if self.needs_fetch(authorization):
            self.fetch_keys()
        return self.verify(authorization)

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
        principal = _principal(claims)
        expires_at = float(claims["exp"]) + self._leeway
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
        return claims


def _reason(error: jwt.PyJWTError) -> str:
    for kind, reason in _REASONS:
        if isinstance(error, kind):
            return reason
    return "invalid token"


def _read_header(authorization: str | None) -> _Header:
    if not authorization:
        raise Unauthenticated(MISSING)
    scheme, _, token = authorization.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or len(authorization) > MAX_HEADER_CHARS:
        raise Unauthenticated(f"{MALFORMED}: expected 'Bearer <token>'")
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError:
        raise Unauthenticated(MALFORMED) from None
    kid, algorithm = header.get("kid"), header.get("alg")
    if not isinstance(algorithm, str) or (kid is not None and not isinstance(kid, str)):
        raise Unauthenticated(MALFORMED)
    return _Header(token, kid, algorithm)


def _principal(claims: dict[str, Any]) -> Principal:
    subject, scope = claims["sub"], claims.get("scope", "")
    if not isinstance(subject, str) or not subject or not isinstance(scope, str):
        raise Unauthenticated(
            f"{MALFORMED}: 'sub' must be a non-empty string and 'scope' a space-separated string"
        )
    return Principal(subject=subject, scopes=frozenset(scope.split()), method=AuthMethod.BEARER_TOKEN)
