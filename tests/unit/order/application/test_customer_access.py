"""The per-customer rules of the Order service: a customer acts for itself, orders:admin for anyone, and
another customer's order looks like a missing one."""

from __future__ import annotations

from datetime import datetime, timezone
from uuid import UUID

import pytest

from common.auth.principal import AuthMethod, Principal
from common.errors import NotFound, PermissionDenied
from order.application.customer_access import (
    NOBODY,
    check_places_for,
    customer_of,
    listed_customer,
    may_act_for,
    visible_order,
)
from order.domain.model import Order, OrderLine

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


# --- the rules the Order handlers apply (caller None: authentication is off) -------------------------------

ADMIN = Principal("staff-9", frozenset({"orders:admin"}), AuthMethod.BEARER_TOKEN)
ME = Principal(CUSTOMER, frozenset(), AuthMethod.BEARER_TOKEN)
SERVICE = Principal.from_peer(frozenset({"spiffe://eshop/order"}))
NO_CUSTOMER = Principal("kiosk-7", frozenset(), AuthMethod.BEARER_TOKEN)
ORDER_ID = UUID("9a1c4e0b-2f3d-4c5e-8a7b-6d5c4b3a2f10")


def _order_of(customer: str) -> Order:
    line = OrderLine(UUID("1c2d3e4f-5a6b-4c7d-8e9f-0a1b2c3d4e5f"), 1)
    return Order.place(ORDER_ID, UUID(customer), (line,), datetime.now(timezone.utc), None)


@pytest.mark.parametrize(
    ("caller", "customer_id", "allowed"),
    [
        (None, OTHER, True),
        (ME, CUSTOMER, True),
        (ME, OTHER, False),
        (ADMIN, OTHER, True),
        (SERVICE, OTHER, False),
    ],
    ids=["auth off", "own", "another's", "admin", "certificate"],
)
def test_check_places_for(caller: Principal | None, customer_id: str, allowed: bool) -> None:
    if allowed:
        check_places_for(caller, customer_id)
    else:
        with pytest.raises(PermissionDenied, match="its own customer id only"):
            check_places_for(caller, customer_id)


@pytest.mark.parametrize(
    ("caller", "owner", "outcome"),
    [
        (None, OTHER, "order"),
        (None, None, NotFound),
        (ME, CUSTOMER, "order"),
        (ME, OTHER, PermissionDenied),
        (ME, None, PermissionDenied),  # the same answer as another's: ids cannot be probed (AIP-211)
        (ADMIN, OTHER, "order"),
        (ADMIN, None, NotFound),
        (SERVICE, OTHER, PermissionDenied),
    ],
    ids=[
        "auth off",
        "auth off, missing",
        "own",
        "another's",
        "missing",
        "admin",
        "admin, missing",
        "certificate",
    ],
)
def test_visible_order(caller: Principal | None, owner: str | None, outcome: object) -> None:
    order = _order_of(owner) if owner is not None else None
    if outcome == "order":
        assert visible_order(caller, ORDER_ID, order) is order
    else:
        assert isinstance(outcome, type)
        with pytest.raises(outcome) as raised:
            visible_order(caller, ORDER_ID, order)
        if outcome is PermissionDenied:
            assert str(raised.value) == f"permission denied on order {ORDER_ID} (or it does not exist)"


@pytest.mark.parametrize(
    ("caller", "requested", "listed"),
    [
        (None, "", None),
        (None, OTHER, UUID(OTHER)),
        (ME, "", UUID(CUSTOMER)),
        (ME, CUSTOMER, UUID(CUSTOMER)),
        (ME, CUSTOMER.upper(), UUID(CUSTOMER)),  # a request may spell the id in upper case
        (ME, OTHER, PermissionDenied),
        (ADMIN, "", None),
        (ADMIN, OTHER, UUID(OTHER)),
        (SERVICE, "", PermissionDenied),
        (NO_CUSTOMER, "", NOBODY),
        (NO_CUSTOMER, CUSTOMER, PermissionDenied),
    ],
    ids=[
        "auth off",
        "auth off, filtered",
        "own by default",
        "own",
        "own, upper case",
        "another's",
        "admin",
        "admin, filtered",
        "certificate",
        "no customer",
        "no customer, filtered",
    ],
)
def test_listed_customer(caller: Principal | None, requested: str, listed: object) -> None:
    if isinstance(listed, type):
        with pytest.raises(PermissionDenied, match="lists its own orders only"):
            listed_customer(caller, requested)
    else:
        assert listed_customer(caller, requested) == listed


# --- a customer is its id in canonical form ---------------------------------------------------------------

SPELLINGS = {
    "upper case": CUSTOMER.upper(),
    "braces": "{" + CUSTOMER + "}",
    "urn:uuid:": f"urn:uuid:{CUSTOMER}",
    "no hyphens": UUID(CUSTOMER).hex,
    "mixed case": CUSTOMER[:8].upper() + CUSTOMER[8:],
}


@pytest.mark.parametrize("subject", SPELLINGS.values(), ids=list(SPELLINGS))
def test_a_subject_spelling_a_customer_id_otherwise_is_no_customer(subject: str) -> None:
    posing = Principal(subject, frozenset(), AuthMethod.BEARER_TOKEN)

    assert customer_of(posing) is None
    for customer_id in (CUSTOMER, CUSTOMER.upper()):
        assert not may_act_for(posing, customer_id)
        with pytest.raises(PermissionDenied):
            check_places_for(posing, customer_id)
    with pytest.raises(PermissionDenied):
        visible_order(posing, ORDER_ID, _order_of(CUSTOMER))
    assert listed_customer(posing, "") is NOBODY


def test_a_canonical_subject_is_its_customer_whatever_the_case_of_the_request() -> None:
    assert customer_of(ME) == CUSTOMER
    assert may_act_for(ME, CUSTOMER.upper())
    check_places_for(ME, CUSTOMER.upper())
