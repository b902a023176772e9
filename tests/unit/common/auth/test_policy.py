"""Who may call what: every RPC of both services has a rule, and each rule decides as
docs/security.md says."""

from __future__ import annotations

import pytest

from common.auth.policy import AccessPolicy
from common.auth.principal import AuthMethod, Principal
from common.errors import PermissionDenied, Unauthenticated
from common.generated.eshop.order.v1 import order_pb2
from common.generated.eshop.product.v1 import product_pb2
from order.presentation.access_policy import ORDER_ACCESS_POLICY
from product.presentation.access_policy import product_access_policy

ORDER_SERVICE_ID = "spiffe://eshop/order"
PRODUCT_POLICY = product_access_policy(frozenset({ORDER_SERVICE_ID}))
P = "/eshop.product.v1.ProductService/"
O = "/eshop.order.v1.OrderService/"  # noqa: E741


def _token(*scopes: str) -> Principal:
    return Principal("customer-1", frozenset(scopes), AuthMethod.BEARER_TOKEN)


PRINCIPALS: dict[str, Principal | None] = {
    "nobody": None,
    "customer": _token(),
    "staff": _token("catalog:write"),
    "stock client token": _token("stock:reserve"),
    "order service cert": Principal.from_peer(frozenset({ORDER_SERVICE_ID, "order.internal"})),
    "other cert": Principal.from_peer(frozenset({"spiffe://eshop/intruder"})),
    "customer token over order service cert": Principal(
        "customer-1", frozenset(), AuthMethod.BEARER_TOKEN, frozenset({ORDER_SERVICE_ID})
    ),
}

ALL = set(PRINCIPALS) - {"nobody"}
STOCK = {"stock client token", "order service cert", "customer token over order service cert"}
EXPECTED_ALLOWED: dict[str, set[str]] = {
    f"{P}GetProduct": ALL,
    f"{P}ListProducts": ALL,
    f"{P}BatchGetProducts": ALL,
    f"{P}CreateProduct": {"staff"},
    f"{P}RestockProduct": {"staff"},
    f"{P}UpdateProduct": {"staff"},
    f"{P}DeleteProduct": {"staff"},
    f"{P}UndeleteProduct": {"staff"},
    f"{P}ReserveStock": STOCK,
    f"{P}ReleaseStock": STOCK,
    f"{P}GetReservation": STOCK,
    f"{O}CreateOrder": ALL,
    f"{O}CancelOrder": ALL,
    f"{O}GetOrder": ALL,
    f"{O}ListOrders": ALL,
}
NEEDED_SCOPE = {
    name: "catalog:write"
    for name in ("CreateProduct", "RestockProduct", "UpdateProduct", "DeleteProduct", "UndeleteProduct")
}


def _policy_for(method: str) -> AccessPolicy:
    return PRODUCT_POLICY if method.startswith(P) else ORDER_ACCESS_POLICY


def _rpcs(file_descriptor: object, service: str) -> set[str]:
    descriptor = file_descriptor.services_by_name[service]  # type: ignore[attr-defined]
    return {f"/{descriptor.full_name}/{method.name}" for method in descriptor.methods}


def test_every_rpc_in_the_protos_has_a_rule_and_the_tables_name_nothing_else() -> None:
    assert set(PRODUCT_POLICY.rules) == _rpcs(product_pb2.DESCRIPTOR, "ProductService")
    assert set(ORDER_ACCESS_POLICY.rules) == _rpcs(order_pb2.DESCRIPTOR, "OrderService")
    assert set(EXPECTED_ALLOWED) == set(PRODUCT_POLICY.rules) | set(ORDER_ACCESS_POLICY.rules)


@pytest.mark.parametrize("who", list(PRINCIPALS))
@pytest.mark.parametrize("method", list(EXPECTED_ALLOWED))
def test_each_method_decides_for_each_kind_of_caller(method: str, who: str) -> None:
    policy, principal = _policy_for(method), PRINCIPALS[who]

    if who in EXPECTED_ALLOWED[method]:
        policy.decide(method, principal)
    elif principal is None:
        with pytest.raises(Unauthenticated, match="missing credentials"):
            policy.decide(method, principal)
    else:
        with pytest.raises(PermissionDenied) as denied:
            policy.decide(method, principal)
        scope = NEEDED_SCOPE.get(method.rsplit("/", 1)[1], "stock:reserve")
        assert f"needs scope '{scope}'" in denied.value.message
        assert ORDER_SERVICE_ID not in denied.value.message


def test_without_configured_stock_clients_only_the_scope_moves_stock() -> None:
    policy = product_access_policy(frozenset())

    with pytest.raises(PermissionDenied):
        policy.decide(f"{P}ReserveStock", PRINCIPALS["order service cert"])
    policy.decide(f"{P}ReserveStock", PRINCIPALS["stock client token"])


@pytest.mark.parametrize(
    "method",
    [f"{P}DeleteEverything", "/eshop.product.v2.ProductService/GetProduct", "/other.Service/Call", "bogus"],
)
def test_methods_without_a_rule_are_refused_even_to_the_mightiest(method: str) -> None:
    everything = _token("catalog:write", "stock:reserve", "orders:admin")

    with pytest.raises(PermissionDenied, match="not open to any caller"):
        PRODUCT_POLICY.decide(method, everything)
    with pytest.raises(Unauthenticated):
        PRODUCT_POLICY.decide(method, None)


@pytest.mark.parametrize(
    "method",
    [
        "/grpc.health.v1.Health/Check",
        "/grpc.health.v1.Health/Watch",
        "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
        "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
    ],
)
def test_health_and_reflection_are_public(method: str) -> None:
    PRODUCT_POLICY.decide(method, None)
    ORDER_ACCESS_POLICY.decide(method, None)
