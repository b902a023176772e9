"""Per-customer rule: a customer token (its ``sub`` is the customer id) acts only on its own orders;
scope ``orders:admin`` acts on any customer's. ``caller`` None means authentication is off: no rule.

Another customer's order is answered as a missing one would be (AIP-211): PERMISSION_DENIED with the
same message whether or not it exists, so order ids cannot be probed.
"""

from __future__ import annotations

from uuid import UUID

from common.auth.principal import AuthMethod, Principal
from common.errors import PermissionDenied
from order.domain.errors import OrderNotFound
from order.domain.model import Order

ORDERS_ADMIN = "orders:admin"


def may_act_for(principal: Principal, customer_id: str) -> bool:
    if principal.has_scope(ORDERS_ADMIN):
        return True
    # A certificate's identity is a service, never a customer, whatever its name says.
    return principal.method is AuthMethod.BEARER_TOKEN and principal.subject == customer_id


def check_places_for(caller: Principal | None, customer_id: str) -> None:
    """CreateOrder: a customer orders for itself."""
    if caller is not None and not may_act_for(caller, customer_id):
        raise PermissionDenied(
            f"a customer token places orders for its own customer id only; scope '{ORDERS_ADMIN}' "
            "places them for any customer"
        )


def visible_order(
    caller: Principal | None, order_id: UUID, order: Order | None, *, asked_for: str | None = None
) -> Order:
    """GetOrder/CancelOrder: the order, if the caller may see it (AIP-211 otherwise). A refusal names
    what the caller asked for (``asked_for``; by default the order id it gave), never more: a
    CreateOrder whose request_id is another customer's order must not learn that order's id."""
    if order is not None and (caller is None or may_act_for(caller, str(order.customer_id))):
        return order
    if caller is not None and not caller.has_scope(ORDERS_ADMIN):
        named = asked_for or f"order {order_id}"
        raise PermissionDenied(f"permission denied on {named} (or it does not exist)")
    raise OrderNotFound(order_id)


def listed_customer(caller: Principal | None, requested: str) -> str:
    """ListOrders: the customer whose orders the caller may list ("" for every customer's)."""
    if caller is None or caller.has_scope(ORDERS_ADMIN):
        return requested
    if caller.method is not AuthMethod.BEARER_TOKEN or requested not in ("", caller.subject):
        raise PermissionDenied(
            f"a customer token lists its own orders only; scope '{ORDERS_ADMIN}' lists any customer's"
        )
    return caller.subject
