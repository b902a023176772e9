"""Principals: a caller known by its client certificate."""

from __future__ import annotations

from common.auth.principal import AuthMethod, Principal


def test_a_certificate_principal_is_named_after_its_first_identity() -> None:
    who = Principal.from_peer(frozenset({"spiffe://eshop/order", "order.internal"}))

    assert (who.subject, who.method, who.scopes) == ("order.internal", AuthMethod.MTLS, frozenset())
