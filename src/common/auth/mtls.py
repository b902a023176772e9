"""Client-certificate identities from a gRPC call's auth context (``context.auth_context()``).

gRPC only fills the x509 properties for a certificate it verified against the server's client CA.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

SAN = "x509_subject_alternative_name"
COMMON_NAME = "x509_common_name"


def peer_identities(auth_context: Mapping[str, Iterable[bytes]]) -> frozenset[str]:
    """The certificate's SAN URIs / DNS names; its common name only when it has no SAN (older certs)."""
    names = _decoded(auth_context.get(SAN, ()))
    return names or _decoded(auth_context.get(COMMON_NAME, ()))


def _decoded(values: Iterable[bytes]) -> frozenset[str]:
    return frozenset(value.decode("utf-8", errors="replace") for value in values if value)
