"""Per-customer rule: a customer token (its ``sub`` is the customer id) acts only on its own orders;
scope ``orders:admin`` acts on any customer's. ``caller`` None means authentication is off: no rule.

A customer is its id in canonical form (lower-case, hyphenated): ``UUID()`` reads upper case, braces,
``urn:uuid:`` and bare hex as the same id, so a ``sub`` spelled any of those ways would let one customer
pose as another. Such a subject is no customer at all. The ``customer_id`` of a request may be upper
case (validation takes it) and is compared in canonical form.

Another customer's order is answered as a missing one would be (AIP-211): PERMISSION_DENIED with the
same message whether or not it exists, so order ids cannot be probed.
"""

from __future__ import annotations

from enum import Enum
from uuid import UUID

from common.auth.principal import AuthMethod, Principal
from common.errors import PermissionDenied
from common.validation import is_canonical_uuid
from order.domain.errors import OrderNotFound
from order.domain.model import Order

ORDERS_ADMIN = "orders:admin"


class Nobody(Enum):
    """ListOrders for a caller that is no customer: there is nothing it may list."""

    NOBODY = "nobody"


NOBODY = Nobody.NOBODY


def customer_of(principal: Principal) -> str | None:
    """The customer id the caller is, or None when it is no customer."""
    # A certificate's identity is a service, never a customer, whatever its name says.
    if principal.method is not AuthMethod.BEARER_TOKEN or not is_canonical_uuid(principal.subject):
        return None
    return principal.subject


def may_act_for(principal: Principal, customer_id: str) -> bool:
    if principal.has_scope(ORDERS_ADMIN):
        return True
    customer = customer_of(principal)
    return customer is not None and customer == _canonical(customer_id)


def check_places_for(caller: Principal | None, customer_id: str) -> None:
    """CreateOrder: a customer orders for itself."""
    if caller is not None and not may_act_for(caller, customer_id):
        raise PermissionDenied(
            f"a customer token places orders for its own customer id only; scope '{ORDERS_ADMIN}' "
            "places them for any customer"
        )


def visible_order(caller: Principal | None, order_id: UUID, order: Order | None) -> Order:
    """GetOrder/CancelOrder: the order, if the caller may see it (AIP-211 otherwise). A refusal names
    the order id the caller gave, never more."""
    if order is not None and (caller is None or may_act_for(caller, str(order.customer_id))):
        return order
    if caller is not None and not caller.has_scope(ORDERS_ADMIN):
        raise PermissionDenied(f"permission denied on order {order_id} (or it does not exist)")
    raise OrderNotFound(order_id)


def listed_customer(caller: Principal | None, requested: str) -> UUID | Nobody | None:
    """ListOrders: the customer whose orders the caller may list (None: every customer's; NOBODY: the
    caller is no customer and asked for no one, so it lists nothing)."""
    if caller is None or caller.has_scope(ORDERS_ADMIN):
        return UUID(requested) if requested else None
    customer = customer_of(caller)
    if customer is not None and (not requested or _canonical(requested) == customer):
        return UUID(customer)
    if not requested and caller.method is AuthMethod.BEARER_TOKEN:
        return NOBODY  # a token that is no customer has no orders of its own
    raise PermissionDenied(
        f"a customer token lists its own orders only; scope '{ORDERS_ADMIN}' lists any customer's"
    )


def _canonical(customer_id: str) -> str:
    """A request's customer id (validated: a UUID, maybe upper case) in the form customers are."""
    try:
        return str(UUID(customer_id))
    except ValueError:
        return customer_id
