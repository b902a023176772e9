"""The per-customer rule of the Order service: a customer acts for itself, orders:admin for anyone."""

from __future__ import annotations

import pytest

from common.auth.principal import AuthMethod, Principal
from order.application.customer_access import may_act_for

CUSTOMER = "0b7f5a1e-4a52-4d1e-9a57-3c9a5d0f3e11"
OTHER = "5f0e2c44-9d3b-4b8e-8f5e-1b1c2a7e9d20"


@pytest.mark.parametrize(
    ("principal", "customer_id", "allowed"),
    [
        (Principal(CUSTOMER, frozenset(), AuthMethod.BEARER_TOKEN), CUSTOMER, True),
        (Principal(CUSTOMER, frozenset(), AuthMethod.BEARER_TOKEN), OTHER, False),
        (
            Principal(CUSTOMER, frozenset({"catalog:write", "stock:reserve"}), AuthMethod.BEARER_TOKEN),
            OTHER,
            False,
        ),
        (Principal("staff-9", frozenset({"orders:admin"}), AuthMethod.BEARER_TOKEN), OTHER, True),
        (Principal(CUSTOMER, frozenset(), AuthMethod.BEARER_TOKEN), "", False),
        # A certificate names a service: even one whose identity equals a customer id is not that customer.
        (Principal.from_peer(frozenset({CUSTOMER})), CUSTOMER, False),
    ],
    ids=["own", "another's", "other scopes", "admin", "empty id", "certificate"],
)
def test_may_act_for(principal: Principal, customer_id: str, allowed: bool) -> None:
    assert may_act_for(principal, customer_id) is allowed
