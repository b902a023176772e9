"""Per call: who is calling, from the ``authorization`` metadata and the verified client certificate.

What the auth interceptor runs, on the server's event loop:
    authorization = authorization_from(metadata)
    fetch = authenticator.pending_fetch(authorization)   # no I/O, never blocks
    if fetch is not None:
        await it (bounded)                               # without blocking the loop or holding a thread
    principal = authenticator.authenticate(authorization, context.auth_context())   # no I/O
    policy.decide(method, principal)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from concurrent.futures import Future

from common import configuration
from common.auth.key_sources import KeySource, NoUsableKeys, RemoteJwks, StaticKeys
from common.auth.keys import load_key_file
from common.auth.mtls import peer_identities
from common.auth.principal import Principal
from common.auth.tokens import METADATA_KEY, TokenVerifier
from common.errors import Unauthenticated
from common.settings import ServerSettings


def authorization_from(metadata: Iterable[tuple[str, str | bytes]] | None) -> str | None:
    """The one ``authorization`` value; two of them are refused rather than guessing which one counts."""
    values = [value for key, value in metadata or () if key == METADATA_KEY]
    if len(values) > 1:
        raise Unauthenticated("malformed token: more than one authorization header")
    if not values:
        return None
    value = values[0]
    return value if isinstance(value, str) else value.decode("latin-1")


class Authenticator:
    def __init__(self, verifier: TokenVerifier) -> None:
        self._verifier = verifier

    def pending_fetch(self, authorization: str | None) -> Future[None] | None:
        """The key fetch this call's token should wait for (see ``TokenVerifier.pending_fetch``)."""
        return None if authorization is None else self._verifier.pending_fetch(authorization)

    def close(self) -> None:
        """Blocking (a key fetch in flight is waited for): once the server has stopped."""
        self._verifier.close()

    def authenticate(
        self, authorization: str | None, auth_context: Mapping[str, Iterable[bytes]]
    ) -> Principal | None:
        """The caller, or None when it sent neither a token nor a certificate. A token that is sent
        must be valid: a bad token is refused even over a good certificate, never silently ignored."""
        identities = peer_identities(auth_context)
        if authorization is not None:
            principal = self._verifier.verify(authorization)
            return Principal(principal.subject, principal.scopes, principal.method, identities)
        return Principal.from_peer(identities) if identities else None


def key_source_from(settings: ServerSettings) -> KeySource:
    """The configured key source; a key file that cannot be read or holds no usable key, or a JWKS URL
    that serves none, is a configuration problem naming its variable (exit status 2), found at start,
    not on the first call."""
    if settings.auth_jwks_url is not None:
        remote = RemoteJwks(settings.auth_jwks_url)
        try:
            remote.load_at_start()
        except NoUsableKeys as error:
            raise configuration.problem(settings, "auth_jwks_url", error) from error
        return remote
    if settings.auth_jwks_file is None:
        raise configuration.ConfigurationError(["no key source: auth_jwks_url or auth_jwks_file must be set"])
    try:
        key_set = load_key_file(settings.auth_jwks_file)
    except (OSError, ValueError) as error:
        reason = error.strerror if isinstance(error, OSError) and error.strerror else str(error)
        raise configuration.problem(settings, "auth_jwks_file", ValueError(reason)) from error
    if not key_set.keys:
        raise configuration.problem(settings, "auth_jwks_file", ValueError(key_set.no_usable_key()))
    key_set.warn_skipped(str(settings.auth_jwks_file))
    return StaticKeys(key_set.keys)


def authenticator_from(settings: ServerSettings) -> Authenticator | None:
    """None when ``auth_mode`` is off. Reads a key file here (startup), never per call; blocking (a JWKS
    URL is fetched once): off the event loop."""
    if settings.auth_mode == "off":
        return None
    verifier = TokenVerifier(
        key_source_from(settings),
        issuer=settings.auth_issuer or "",
        audience=settings.auth_audience,
        leeway_s=settings.auth_clock_skew_s,
    )
    return Authenticator(verifier)
