"""Property: with authentication required, whatever customers try with their own tokens, stock
moves only through each customer's own orders: every attempt on another customer's behalf, and every
direct stock or catalogue call, is refused and changes nothing."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

import grpc
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from common.generated.eshop.order.v1 import order_pb2 as order_pb
from common.generated.eshop.product.v1 import product_pb2 as product_pb
from order.domain.model import OrderStatus
from order.infrastructure.tables import order_lines, orders
from tests.support.auth import TIMEOUT_S, AuthedServices
from tests.support.invariant import connect, stock_levels, wait_for_quiescence

CUSTOMERS = 3
INITIAL_STOCK = 6
KINDS = ("order_own", "order_for_other", "cancel", "reserve", "release", "restock", "list_other")
DENIED = grpc.StatusCode.PERMISSION_DENIED


@dataclass
class Placed:
    order_id: str
    customer: int
    product: int
    quantity: int
    status: int


@dataclass
class World:
    customers: list[str]
    products: list[str]
    placed: list[Placed] = field(default_factory=list)

    def held(self) -> dict[tuple[str, str], int]:
        """Units each customer's CONFIRMED orders hold, per (customer id, product id)."""
        held: dict[tuple[str, str], int] = {}
        for order in self.placed:
            if order.status == order_pb.ORDER_STATUS_CONFIRMED:
                key = (self.customers[order.customer], self.products[order.product])
                held[key] = held.get(key, 0) + order.quantity
        return held


def _code(call: object) -> grpc.StatusCode:
    assert callable(call)
    try:
        call()
    except grpc.RpcError as error:
        assert isinstance(error, grpc.Call)
        return error.code()
    return grpc.StatusCode.OK


Action = tuple[int, str, int, int]  # actor, kind, target (a product or an order, modulo), quantity


def _act(s: AuthedServices, world: World, action: Action) -> None:
    actor, kind, target, quantity = action
    me = s.minter.customer(world.customers[actor])
    other = world.customers[(actor + 1) % CUSTOMERS]
    product = target % len(world.products)
    some_order = world.placed[target % len(world.placed)] if world.placed else None
    if kind == "order_own":
        line = order_pb.OrderLine(product_id=world.products[product], quantity=quantity)
        order: order_pb.Order = s.order.CreateOrder(
            order_pb.CreateOrderRequest(customer_id=world.customers[actor], items=[line]),
            timeout=TIMEOUT_S,
            metadata=me,
        )
        world.placed.append(Placed(order.order_id, actor, product, quantity, order.status))
    elif kind == "order_for_other":
        line = order_pb.OrderLine(product_id=world.products[product], quantity=quantity)
        request = order_pb.CreateOrderRequest(customer_id=other, items=[line])
        assert _code(lambda: s.order.CreateOrder(request, timeout=TIMEOUT_S, metadata=me)) is DENIED
    elif kind == "cancel" and some_order is not None:
        cancel = order_pb.CancelOrderRequest(order_id=some_order.order_id)
        if some_order.customer != actor:
            assert _code(lambda: s.order.CancelOrder(cancel, timeout=TIMEOUT_S, metadata=me)) is DENIED
        elif some_order.status == order_pb.ORDER_STATUS_CONFIRMED:
            cancelled: order_pb.Order = s.order.CancelOrder(cancel, timeout=TIMEOUT_S, metadata=me)
            some_order.status = cancelled.status
    elif kind == "reserve":
        item = product_pb.StockItem(product_id=world.products[product], quantity=quantity)
        reserve = product_pb.ReserveStockRequest(order_id=str(uuid.uuid4()), items=[item])
        assert _code(lambda: s.product.ReserveStock(reserve, timeout=TIMEOUT_S, metadata=me)) is DENIED
    elif kind == "release" and some_order is not None:
        release = product_pb.ReleaseStockRequest(order_id=some_order.order_id)
        assert _code(lambda: s.product.ReleaseStock(release, timeout=TIMEOUT_S, metadata=me)) is DENIED
    elif kind == "restock":
        restock = product_pb.RestockProductRequest(product_id=world.products[product], quantity=quantity)
        assert _code(lambda: s.product.RestockProduct(restock, timeout=TIMEOUT_S, metadata=me)) is DENIED
    elif kind == "list_other":
        listing = order_pb.ListOrdersRequest(customer_id=other)
        assert _code(lambda: s.order.ListOrders(listing, timeout=TIMEOUT_S, metadata=me)) is DENIED


def _held_in_database(order_db_url: str, product_ids: list[str]) -> dict[tuple[str, str], int]:
    query = (
        select(orders.c.customer_id, order_lines.c.product_id, func.sum(order_lines.c.quantity))
        .join(orders, orders.c.order_id == order_lines.c.order_id)
        .where(orders.c.status == OrderStatus.CONFIRMED.value, order_lines.c.product_id.in_(product_ids))
        .group_by(orders.c.customer_id, order_lines.c.product_id)
    )
    with connect(order_db_url) as conn:
        return {(customer, product): int(units) for customer, product, units in conn.execute(query)}


ACTIONS = st.lists(
    st.tuples(st.integers(0, CUSTOMERS - 1), st.sampled_from(KINDS), st.integers(0, 50), st.integers(1, 3)),
    min_size=1,
    max_size=12,
)


@settings(max_examples=12, deadline=None)
@given(actions=ACTIONS)
def test_customers_move_stock_only_through_their_own_orders(
    authed: AuthedServices, actions: list[Action]
) -> None:
    world = World(
        customers=[str(uuid.uuid4()) for _ in range(CUSTOMERS)],
        products=[authed.new_product(stock=INITIAL_STOCK) for _ in range(2)],
    )

    for action in actions:
        _act(authed, world, action)

    wait_for_quiescence(authed.order_db_url)
    held = world.held()
    assert _held_in_database(authed.order_db_url, world.products) == held
    stock = stock_levels(authed.product_db_url)
    for product_id in world.products:
        taken = sum(units for (_, product), units in held.items() if product == product_id)
        assert stock[product_id] == INITIAL_STOCK - taken
