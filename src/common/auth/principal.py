"""Who is calling: the authenticated principal of the call being served, in a context variable."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from enum import Enum


class AuthMethod(str, Enum):
    BEARER_TOKEN = "bearer_token"
    MTLS = "mtls"


@dataclass(frozen=True)
class Principal:
    subject: str
    scopes: frozenset[str]
    method: AuthMethod
    # The verified client certificate's identities (SAN URIs / DNS names), also when a token was sent.
    peer_identities: frozenset[str] = frozenset()

    def has_scope(self, scope: str) -> bool:
        return scope in self.scopes

    @classmethod
    def from_peer(cls, identities: frozenset[str]) -> Principal:
        """A caller known only by its client certificate: no scopes, its first identity as subject."""
        return cls(
            subject=min(identities), scopes=frozenset(), method=AuthMethod.MTLS, peer_identities=identities
        )


_current: ContextVar[Principal | None] = ContextVar("principal", default=None)


def current() -> Principal | None:
    return _current.get()


@contextmanager
def bound(principal: Principal | None) -> Iterator[Principal | None]:
    """Make ``principal`` the current call's principal inside the block."""
    token = _current.set(principal)
    try:
        yield principal
    finally:
        _current.reset(token)
