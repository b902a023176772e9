"""Every RPC of both services against every kind of credential, with the exact status.

Rows: the RPCs; columns: no token, malformed, bad signature, expired, wrong audience, unknown key,
``alg=none``, a valid token without the scope, a customer token on another customer's order, the right
credentials. Each call makes, with the right credentials, the data it acts on first.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass

import grpc
import pytest

from common.generated.eshop.order.v1 import order_pb2 as order_pb
from common.generated.eshop.product.v1 import product_pb2 as product_pb
from tests.support.auth import (
    BOTH,
    TIMEOUT_S,
    AuthedServices,
    Metadata,
    Minter,
    bearer,
    expired_claims,
    new_customer,
)
from tests.support.signing import ec_key, unsigned, valid_claims

OK = grpc.StatusCode.OK
UNAUTHENTICATED = grpc.StatusCode.UNAUTHENTICATED
DENIED = grpc.StatusCode.PERMISSION_DENIED


@dataclass(frozen=True)
class Call:
    """One RPC made as ``customer`` (the caller a customer token names) on data of ``owner``."""

    name: str
    service: str  # product | order
    # (services, metadata, caller's customer id, owner's customer id) -> makes the call
    run: Callable[[AuthedServices, Metadata, str, str], object]
    right: str  # which credentials are the right ones: any | catalog | stock | customer


def _reserve(s: AuthedServices, md: Metadata, caller: str, owner: str) -> object:
    item = product_pb.StockItem(product_id=s.new_product(), quantity=1)
    return s.product.ReserveStock(
        product_pb.ReserveStockRequest(order_id=str(uuid.uuid4()), items=[item]),
        timeout=TIMEOUT_S,
        metadata=md,
    )


def _get_reservation(s: AuthedServices, md: Metadata, caller: str, owner: str) -> object:
    order = s.new_order(owner, s.new_product())  # the Order service reserved under the order's id
    return s.product.GetReservation(
        product_pb.GetReservationRequest(order_id=order.order_id), timeout=TIMEOUT_S, metadata=md
    )


def _undelete(s: AuthedServices, md: Metadata, caller: str, owner: str) -> object:
    product_id = s.new_product()
    s.product.DeleteProduct(
        product_pb.DeleteProductRequest(product_id=product_id),
        timeout=TIMEOUT_S,
        metadata=s.minter.staff("catalog:write"),
    )
    return s.product.UndeleteProduct(
        product_pb.UndeleteProductRequest(product_id=product_id), timeout=TIMEOUT_S, metadata=md
    )


def _line(s: AuthedServices) -> list[order_pb.OrderLine]:
    return [order_pb.OrderLine(product_id=s.new_product(), quantity=1)]


CALLS = [
    Call(
        "GetProduct",
        "product",
        lambda s, md, c, o: s.product.GetProduct(
            product_pb.GetProductRequest(product_id=s.new_product()), timeout=TIMEOUT_S, metadata=md
        ),
        "any",
    ),
    Call(
        "ListProducts",
        "product",
        lambda s, md, c, o: s.product.ListProducts(
            product_pb.ListProductsRequest(), timeout=TIMEOUT_S, metadata=md
        ),
        "any",
    ),
    Call(
        "BatchGetProducts",
        "product",
        lambda s, md, c, o: s.product.BatchGetProducts(
            product_pb.BatchGetProductsRequest(product_ids=[s.new_product()]), timeout=TIMEOUT_S, metadata=md
        ),
        "any",
    ),
    Call(
        "CreateProduct",
        "product",
        lambda s, md, c, o: s.product.CreateProduct(
            product_pb.CreateProductRequest(name="Kettle", price="30.00", stock_quantity=1),
            timeout=TIMEOUT_S,
            metadata=md,
        ),
        "catalog",
    ),
    Call(
        "RestockProduct",
        "product",
        lambda s, md, c, o: s.product.RestockProduct(
            product_pb.RestockProductRequest(product_id=s.new_product(), quantity=5),
            timeout=TIMEOUT_S,
            metadata=md,
        ),
        "catalog",
    ),
    Call(
        "UpdateProduct",
        "product",
        lambda s, md, c, o: s.product.UpdateProduct(
            product_pb.UpdateProductRequest(
                product=product_pb.Product(product_id=s.new_product(), name="Cup")
            ),
            timeout=TIMEOUT_S,
            metadata=md,
        ),
        "catalog",
    ),
    Call(
        "DeleteProduct",
        "product",
        lambda s, md, c, o: s.product.DeleteProduct(
            product_pb.DeleteProductRequest(product_id=s.new_product()), timeout=TIMEOUT_S, metadata=md
        ),
        "catalog",
    ),
    Call("UndeleteProduct", "product", _undelete, "catalog"),
    Call("ReserveStock", "product", _reserve, "stock"),
    Call(
        "ReleaseStock",
        "product",
        lambda s, md, c, o: s.product.ReleaseStock(
            product_pb.ReleaseStockRequest(order_id=s.new_order(o, s.new_product()).order_id),
            timeout=TIMEOUT_S,
            metadata=md,
        ),
        "stock",
    ),
    Call("GetReservation", "product", _get_reservation, "stock"),
    Call(
        "CreateOrder",
        "order",
        lambda s, md, c, o: s.order.CreateOrder(
            order_pb.CreateOrderRequest(customer_id=o, items=_line(s)), timeout=TIMEOUT_S, metadata=md
        ),
        "customer",
    ),
    Call(
        "CancelOrder",
        "order",
        lambda s, md, c, o: s.order.CancelOrder(
            order_pb.CancelOrderRequest(order_id=s.new_order(o, s.new_product()).order_id),
            timeout=TIMEOUT_S,
            metadata=md,
        ),
        "customer",
    ),
    Call(
        "GetOrder",
        "order",
        lambda s, md, c, o: s.order.GetOrder(
            order_pb.GetOrderRequest(order_id=s.new_order(o, s.new_product()).order_id),
            timeout=TIMEOUT_S,
            metadata=md,
        ),
        "customer",
    ),
    Call(
        "ListOrders",
        "order",
        lambda s, md, c, o: s.order.ListOrders(
            order_pb.ListOrdersRequest(customer_id=o), timeout=TIMEOUT_S, metadata=md
        ),
        "customer",
    ),
]


def test_every_rpc_of_the_protos_is_called() -> None:
    """The table is every RPC: a new one without its row would go untested against bad credentials."""
    rpcs = {
        (service, method.name)
        for service, descriptor in (("product", product_pb.DESCRIPTOR), ("order", order_pb.DESCRIPTOR))
        for method in descriptor.services_by_name[f"{service.title()}Service"].methods
    }
    assert {(c.service, c.name) for c in CALLS} == rpcs


# Credentials that prove nothing: UNAUTHENTICATED on every RPC, whatever the token would have allowed.
# (minter, caller's customer id) -> metadata; the token would carry every scope if it were valid.
ALL_SCOPES = ("catalog:write", "stock:reserve", "orders:admin")
INVALID: dict[str, Callable[[Minter, str], Metadata]] = {
    "no token": lambda m, c: (),
    "malformed": lambda m, c: bearer("not-a-jwt"),
    "not bearer": lambda m, c: (("authorization", "Basic dXNlcjpwYXNz"),),
    "bad signature": lambda m, c: bearer(ec_key(m.key.kid).sign(sub=c, scope=" ".join(ALL_SCOPES), aud=BOTH)),
    "expired": lambda m, c: bearer(m.token(c, *ALL_SCOPES, **expired_claims())),
    "wrong audience": lambda m, c: bearer(m.token(c, *ALL_SCOPES, audience="elsewhere")),
    "wrong issuer": lambda m, c: bearer(m.token(c, *ALL_SCOPES, iss="https://other-idp.test")),
    "unknown key": lambda m, c: bearer(
        ec_key("unknown-kid").sign(sub=c, scope=" ".join(ALL_SCOPES), aud=BOTH)
    ),
    "alg=none": lambda m, c: bearer(
        unsigned({"alg": "none", "kid": m.key.kid}, valid_claims(sub=c, aud=BOTH, scope=" ".join(ALL_SCOPES)))
    ),
}
REASONS = {
    "no token": "missing credentials",
    "malformed": "malformed token",
    "not bearer": "malformed token",
    "bad signature": "bad signature",
    "expired": "token expired",
    "wrong audience": "wrong audience",
    "wrong issuer": "wrong issuer",
    "unknown key": "unknown signing key",
    "alg=none": "algorithm not allowed",
}

RIGHT_SCOPES = {"any": (), "catalog": ("catalog:write",), "stock": ("stock:reserve",), "customer": ()}


def _status(call: Callable[[], object]) -> tuple[grpc.StatusCode, str]:
    try:
        call()
    except grpc.RpcError as error:
        assert isinstance(error, grpc.Call)
        return error.code(), error.details() or ""
    return OK, ""


@pytest.mark.parametrize("case", list(INVALID))
@pytest.mark.parametrize("rpc", CALLS, ids=[c.name for c in CALLS])
def test_credentials_that_prove_nothing_are_unauthenticated_with_the_reason(
    authed: AuthedServices, rpc: Call, case: str
) -> None:
    customer = new_customer()
    metadata = INVALID[case](authed.minter, customer)

    code, message = _status(lambda: rpc.run(authed, metadata, customer, customer))

    assert code is UNAUTHENTICATED, message
    assert REASONS[case] in message
    for _, value in metadata:
        assert value.removeprefix("Bearer ") not in message


@pytest.mark.parametrize("rpc", CALLS, ids=[c.name for c in CALLS])
def test_a_valid_token_without_the_scope(authed: AuthedServices, rpc: Call) -> None:
    customer = new_customer()

    code, message = _status(lambda: rpc.run(authed, authed.minter.customer(customer), customer, customer))

    if rpc.right in ("any", "customer"):
        assert code is OK, message  # any caller reads the catalogue; a customer acts on its own orders
    else:
        assert code is DENIED, message
        assert f"ProductService/{rpc.name} needs scope '{RIGHT_SCOPES[rpc.right][0]}'" in message


ORDER_CALLS = [c for c in CALLS if c.service == "order"]


@pytest.mark.parametrize("rpc", ORDER_CALLS, ids=[c.name for c in ORDER_CALLS])
def test_a_customer_token_on_another_customers_order_is_permission_denied(
    authed: AuthedServices, rpc: Call
) -> None:
    caller, owner = new_customer(), new_customer()

    code, message = _status(lambda: rpc.run(authed, authed.minter.customer(caller), caller, owner))

    assert code is DENIED, message


@pytest.mark.parametrize("rpc", CALLS, ids=[c.name for c in CALLS])
def test_the_right_credentials_are_let_through(authed: AuthedServices, rpc: Call) -> None:
    customer = new_customer()
    if rpc.right == "customer":
        metadata = authed.minter.customer(customer)
    else:
        metadata = authed.minter.staff(*RIGHT_SCOPES[rpc.right])

    code, message = _status(lambda: rpc.run(authed, metadata, customer, customer))

    assert code is OK, message


@pytest.mark.parametrize("rpc", ORDER_CALLS, ids=[c.name for c in ORDER_CALLS])
def test_orders_admin_acts_on_any_customer(authed: AuthedServices, rpc: Call) -> None:
    owner = new_customer()

    code, message = _status(lambda: rpc.run(authed, authed.minter.staff("orders:admin"), "staff-1", owner))

    assert code is OK, message


SCOPED_CALLS = [c for c in CALLS if RIGHT_SCOPES[c.right]]
LOOK_ALIKE_BLANKS = {"no-break space": "\u00a0", "unit separator": "\x1f", "tab": "\t", "line feed": "\n"}


@pytest.mark.parametrize("blank", LOOK_ALIKE_BLANKS.values(), ids=list(LOOK_ALIKE_BLANKS))
@pytest.mark.parametrize("rpc", SCOPED_CALLS, ids=[c.name for c in SCOPED_CALLS])
def test_a_scope_joined_by_anything_but_a_space_is_not_granted(
    authed: AuthedServices, rpc: Call, blank: str
) -> None:
    """RFC 6749 section 3.3: scope-tokens are separated by U+0020 only."""
    customer = new_customer()
    metadata = bearer(authed.minter.token("staff-1", f"x{blank}{RIGHT_SCOPES[rpc.right][0]}"))

    code, message = _status(lambda: rpc.run(authed, metadata, customer, customer))

    assert code is DENIED, message
