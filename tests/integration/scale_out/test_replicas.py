"""Scale-out: two Product and two Order replicas on one database, calls spread by round robin.

Run on SQLite by default and on PostgreSQL in the ``-pg`` tox env: the replicas share nothing but
the database, so the stock rules must hold there, not in any process's memory.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import grpc
import pytest
from google.protobuf import field_mask_pb2

from common.generated.eshop.order.v1 import order_pb2, order_pb2_grpc
from common.generated.eshop.product.v1 import product_pb2, product_pb2_grpc
from order.settings import OrderSettings
from product.settings import ProductSettings
from tests.support.servers import RunningServer, start_order, start_product

HOT_PRODUCTS = 5
STOCK_EACH = 40
ORDERS = 300


class CallCounter(grpc.aio.ServerInterceptor):
    def __init__(self, name: str, calls: Counter[str]) -> None:
        self._name, self._calls = name, calls

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler | None]],
        details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler | None:
        if details.method.startswith(
            ("/eshop.order.v1.OrderService/CreateOrder", "/eshop.product.v1.ProductService/ReserveStock")
        ):
            self._calls[self._name] += 1
        return await continuation(details)


@dataclass
class Cluster:
    product_ports: list[int]
    order_ports: list[int]
    calls: Counter[str] = field(default_factory=Counter)

    def target(self, ports: list[int]) -> str:
        return "ipv4:" + ",".join(f"127.0.0.1:{p}" for p in ports)


@pytest.fixture
def cluster(make_database_url: Callable[[str], str]) -> Iterator[Cluster]:
    product_db, order_db = make_database_url("product"), make_database_url("order")
    running: list[RunningServer] = []
    calls: Counter[str] = Counter()
    try:
        for i in range(2):
            settings = ProductSettings(listen_address="127.0.0.1:0", database_url=product_db)
            server, _ = start_product(settings, [CallCounter(f"product-{i}", calls)])
            running.append(server)
        product_ports = [s.port for s in running]
        target = Cluster(product_ports, []).target(product_ports)
        for i in range(2):
            order_settings = OrderSettings(
                listen_address="127.0.0.1:0", database_url=order_db, product_service_target=target
            )
            server, _ = start_order(order_settings, [CallCounter(f"order-{i}", calls)])
            running.append(server)
        yield Cluster(product_ports, [s.port for s in running[2:]], calls)
    finally:
        for server in reversed(running):
            server.stop(0)


def _round_robin(target: str) -> grpc.Channel:
    return grpc.insecure_channel(target, options=[("grpc.lb_policy_name", "round_robin")])


def test_replicas_share_stock_without_overselling(cluster: Cluster) -> None:
    with (
        _round_robin(cluster.target(cluster.product_ports)) as product_channel,
        _round_robin(cluster.target(cluster.order_ports)) as order_channel,
    ):
        products = product_pb2_grpc.ProductServiceStub(product_channel)
        orders = order_pb2_grpc.OrderServiceStub(order_channel)
        ids = [
            products.CreateProduct(
                product_pb2.CreateProductRequest(name=f"hot {i}", price="1.00", stock_quantity=STOCK_EACH),
                timeout=10,
            ).product_id
            for i in range(HOT_PRODUCTS)
        ]

        def place(n: int) -> order_pb2.Order:
            # Two lines on neighbouring hot products, in either order: row locks must not deadlock.
            first, second = ids[n % HOT_PRODUCTS], ids[(n + 1 + n % 2) % HOT_PRODUCTS]
            lines = [order_pb2.OrderLine(product_id=first, quantity=1)]
            if second != first:
                lines.append(order_pb2.OrderLine(product_id=second, quantity=1))
            return orders.CreateOrder(
                order_pb2.CreateOrderRequest(customer_id=str(uuid.uuid4()), items=lines), timeout=30
            )

        with ThreadPoolExecutor(max_workers=32) as pool:
            placed = list(pool.map(place, range(ORDERS)))

        statuses = Counter(order_pb2.OrderStatus.Name(o.status) for o in placed)
        assert set(statuses) <= {"ORDER_STATUS_CONFIRMED", "ORDER_STATUS_REJECTED"}
        assert statuses["ORDER_STATUS_CONFIRMED"] > 0 and statuses["ORDER_STATUS_REJECTED"] > 0

        confirmed_units: Counter[str] = Counter()
        for order in placed:
            if order.status == order_pb2.ORDER_STATUS_CONFIRMED:
                for item in order.items:
                    confirmed_units[item.product_id] += item.quantity
        stock = {
            p.product_id: p.stock_quantity
            for p in products.BatchGetProducts(
                product_pb2.BatchGetProductsRequest(product_ids=ids), timeout=10
            ).products
        }
        for product_id in ids:
            assert stock[product_id] >= 0
            # The invariant: initial stock = available + confirmed, per product.
            assert stock[product_id] + confirmed_units[product_id] == STOCK_EACH
    # Round robin really spread the load: every replica of each service served calls.
    assert all(count > 0 for count in cluster.calls.values()), cluster.calls


def test_concurrent_updates_with_one_etag_across_replicas_exactly_one_wins(cluster: Cluster) -> None:
    # Both replicas read the same version; the row lock and the compare-and-set on it, in the database
    # they share, let one update through and refuse the rest as stale, whichever replica serves each.
    with _round_robin(cluster.target(cluster.product_ports)) as channel:
        products = product_pb2_grpc.ProductServiceStub(channel)
        created = products.CreateProduct(
            product_pb2.CreateProductRequest(name="Mug", price="4.00", stock_quantity=100), timeout=10
        )

        def rename(n: int) -> str:
            request = product_pb2.UpdateProductRequest(
                product=product_pb2.Product(
                    product_id=created.product_id, name=f"Mug {n}", etag=created.etag
                ),
                update_mask=field_mask_pb2.FieldMask(paths=["name"]),
            )
            try:
                products.UpdateProduct(request, timeout=30)
            except grpc.RpcError as error:
                return str(error.code().name)
            return "OK"

        # Unconditional stock moves at the same time: each moves the etag on, none is refused for it.
        def reserve(n: int) -> str:
            item = product_pb2.StockItem(product_id=created.product_id, quantity=1)
            products.ReserveStock(
                product_pb2.ReserveStockRequest(order_id=str(uuid.uuid4()), items=[item]), timeout=30
            )
            return "RESERVED"

        with ThreadPoolExecutor(max_workers=32) as pool:
            renames = pool.map(rename, range(24))
            reserves = pool.map(reserve, range(24))
            outcomes = Counter([*renames, *reserves])

        final = products.GetProduct(product_pb2.GetProductRequest(product_id=created.product_id), timeout=10)
    assert outcomes == {"OK": 1, "ABORTED": 23, "RESERVED": 24}
    assert final.stock_quantity == 76
    assert final.name.startswith("Mug ") and final.etag != created.etag
    assert all(count > 0 for name, count in cluster.calls.items() if name.startswith("product")), (
        cluster.calls
    )
