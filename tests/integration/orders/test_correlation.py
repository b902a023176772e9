"""x-correlation-id end to end: from the caller, through the Order service, to the Product service."""

from __future__ import annotations

import uuid

from common.correlation import HEADER
from common.generated.eshop.order.v1 import order_pb2 as opb
from tests.support.helpers import create_product, new_id, order_request
from tests.support.interceptors import RESERVE, Record
from tests.support.logs import LogLine
from tests.support.servers import Servers

CREATE_LINE = "rpc /eshop.order.v1.OrderService/CreateOrder "
RESERVE_LINE = f"rpc {RESERVE} "


def lines_starting(logs: list[LogLine], prefix: str) -> list[LogLine]:
    return [line for line in list(logs) if line.message.startswith(prefix)]


def test_the_callers_id_reaches_both_services_logs_and_the_product_call(
    servers: Servers, logs: list[LogLine]
) -> None:
    recorder = Record()
    product = servers.product(interceptors=(recorder,))
    orders = servers.order_stub(servers.order(product.port))
    lamp = create_product(servers.product_stub(product), stock=5)

    order, call = orders.CreateOrder.with_call(
        order_request(new_id(), (lamp.product_id, 1)), metadata=((HEADER, "test-cid-123"),), timeout=10
    )

    assert order.status == opb.ORDER_STATUS_CONFIRMED
    assert (HEADER, "test-cid-123") in call.initial_metadata()
    [reserve] = recorder.of(RESERVE)
    assert reserve.correlation_ids == ["test-cid-123"]
    assert reserve.order_id == order.order_id
    [order_side] = lines_starting(logs, CREATE_LINE)
    [product_side] = lines_starting(logs, RESERVE_LINE)
    assert order_side.correlation_id == "test-cid-123"
    assert product_side.correlation_id == "test-cid-123"
    # Every other line the order produced (handler, outgoing call) carries it too.
    about_order = [line for line in logs if order.order_id in line.message]
    assert about_order and all(line.correlation_id == "test-cid-123" for line in about_order)


def test_without_an_id_both_services_share_the_one_the_order_service_made(
    servers: Servers, logs: list[LogLine]
) -> None:
    recorder = Record()
    product = servers.product(interceptors=(recorder,))
    orders = servers.order_stub(servers.order(product.port))
    lamp = create_product(servers.product_stub(product), stock=5)

    _, call = orders.CreateOrder.with_call(order_request(new_id(), (lamp.product_id, 1)), timeout=10)

    [echoed] = [v for k, v in call.initial_metadata() if k == HEADER]
    assert uuid.UUID(echoed).version == 4
    assert recorder.of(RESERVE)[0].correlation_ids == [echoed]
    assert lines_starting(logs, CREATE_LINE)[0].correlation_id == echoed
    assert lines_starting(logs, RESERVE_LINE)[0].correlation_id == echoed


def test_an_invalid_id_is_replaced_before_it_travels(servers: Servers) -> None:
    recorder = Record()
    product = servers.product(interceptors=(recorder,))
    orders = servers.order_stub(servers.order(product.port))
    lamp = create_product(servers.product_stub(product), stock=5)

    _, call = orders.CreateOrder.with_call(
        order_request(new_id(), (lamp.product_id, 1)), metadata=((HEADER, "bad id!"),), timeout=10
    )

    [echoed] = [v for k, v in call.initial_metadata() if k == HEADER]
    assert echoed != "bad id!"
    assert recorder.of(RESERVE)[0].correlation_ids == [echoed]
