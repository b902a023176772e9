"""The round trips of an order with its reservation, counted as ``python -m benchmarks --count-queries``
counts them: each BEGIN, statement and COMMIT of the calls' transactions. On PostgreSQL the writes of
several rows (an order's lines, a reservation's decrements) are one statement each, whatever the number
of lines; SQLite runs the same writes one statement after the other (calls into the library, not round
trips)."""

from __future__ import annotations

from benchmarks import query_count

from common.generated.eshop.order.v1 import order_pb2 as opb
from tests.support.backend import backend
from tests.support.helpers import create_product, new_id, order_request
from tests.support.servers import Servers

CREATE = "/eshop.order.v1.OrderService/CreateOrder"
RESERVE = "/eshop.product.v1.ProductService/ReserveStock"


def test_an_order_of_two_lines_with_its_reservation_is_nine_round_trips_on_postgresql(
    servers: Servers,
) -> None:
    naming = query_count.RpcNamingInterceptor()
    product = servers.product(interceptors=(naming,))
    order_server = servers.order(product.port, interceptors=(naming,))
    products, orders = servers.product_stub(product), servers.order_stub(order_server)
    lamp, desk = create_product(products, stock=10), create_product(products, stock=10)

    query_count.install_listeners()
    try:
        order = orders.CreateOrder(
            order_request(new_id(), (lamp.product_id, 3), (desk.product_id, 1)), timeout=10
        )
        counted = query_count.counted()
    finally:
        query_count.remove_listeners()

    assert order.status == opb.ORDER_STATUS_CONFIRMED
    create, reserve = counted[CREATE], counted[RESERVE]
    shape = [
        (c["begins_per_call"], c["statements_per_call"], c["commits_per_call"]) for c in (create, reserve)
    ]
    if backend() == "postgres":
        # CreateOrder: the order with its lines, then its confirmation with the prices, each a
        # transaction of one statement; ReserveStock: the claim, decrements and lines, one statement.
        assert shape == [(2, 2, 2), (1, 1, 1)]
        assert create["round_trips_per_call"] + reserve["round_trips_per_call"] == 9
    else:
        assert shape == [(2, 4, 2), (1, 4, 1)]
