"""Per-customer rule: a customer token (its ``sub`` is the customer id) acts only on its own orders;
scope ``orders:admin`` acts on any customer's."""

from __future__ import annotations

from common.auth.principal import AuthMethod, Principal

ORDERS_ADMIN = "orders:admin"


def may_act_for(principal: Principal, customer_id: str) -> bool:
    if principal.has_scope(ORDERS_ADMIN):
        return True
    # A certificate's identity is a service, never a customer, whatever its name says.
    return principal.method is AuthMethod.BEARER_TOKEN and principal.subject == customer_id
