"""Who is calling: an authenticated principal (the call being served holds its caller in
``common.call_context``)."""

from __future__ import annotations

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
