"""What the services publish: one message per change the contract names, with the contract's AMQP
properties and CloudEvents headers, the resource as it is right after the change, in commit order; and
the exchange each service declares when it starts."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from uuid import UUID, uuid4

import pytest
from google.protobuf.field_mask_pb2 import FieldMask

from common.generated.eshop.order.v1 import events_pb2 as oev
from common.generated.eshop.order.v1 import order_pb2 as opb
from common.generated.eshop.product.v1 import events_pb2 as pev
from common.generated.eshop.product.v1 import product_pb2 as pb
from tests.support.event_services import publishing_servers
from tests.support.event_tap import EventTap, Received
from tests.support.helpers import create_product, new_id, order_request, wait_until
from tests.support.ports import free_port
from tests.support.rabbitmq_broker import PrivateRabbit
from tests.support.servers import Servers

pytestmark = pytest.mark.slow  # a RabbitMQ node: run once per backend, on py311 (tox.ini)
TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def _types(received: list[Received]) -> list[str]:
    return [r.type.rsplit(".", 1)[-1] for r in received]


def _check_envelope(message: Received, *, source: str, app_id: str, correlation_id: str) -> None:
    assert message.routing_key == message.type
    assert message.content_type == "application/protobuf"
    assert message.delivery_mode == 2
    assert message.app_id == app_id
    assert message.correlation_id == correlation_id
    assert message.timestamp is not None
    UUID(message.message_id)
    headers = message.headers
    assert headers["cloudEvents:specversion"] == "1.0"
    assert headers["cloudEvents:id"] == message.message_id
    assert headers["cloudEvents:source"] == source
    assert headers["cloudEvents:type"] == message.type
    time = datetime.fromisoformat(headers["cloudEvents:time"].replace("Z", "+00:00"))
    assert time.tzinfo is not None
    assert abs(datetime.now(timezone.utc) - time) < timedelta(minutes=5)
    assert headers["traceparent"] == TRACEPARENT


def test_every_change_is_published_with_the_contracts_properties_in_order(
    services: Servers, tap: EventTap
) -> None:
    product_server = services.product()
    products = services.product_stub(product_server)
    orders = services.order_stub(services.order(product_server.port))
    call = {"metadata": (("x-correlation-id", "events-test-1"), ("traceparent", TRACEPARENT))}

    created = products.CreateProduct(
        pb.CreateProductRequest(name="Lamp", price="20.00", stock_quantity=5, low_stock_threshold=2),
        timeout=10,
        **call,
    )
    pid = created.product_id
    updated = products.UpdateProduct(
        pb.UpdateProductRequest(product=pb.Product(product_id=pid, name="Desk lamp")), timeout=10, **call
    )
    confirmed = orders.CreateOrder(order_request(new_id(), (pid, 3)), timeout=10, **call)
    cancelled = orders.CancelOrder(opb.CancelOrderRequest(order_id=confirmed.order_id), timeout=10, **call)
    rejected = orders.CreateOrder(order_request(new_id(), (new_id(), 1)), timeout=10, **call)
    deleted = products.DeleteProduct(pb.DeleteProductRequest(product_id=pid), timeout=10, **call)
    undeleted = products.UndeleteProduct(pb.UndeleteProductRequest(product_id=pid), timeout=10, **call)

    got = tap.wait_for(lambda r: len(r) >= 8, 20, "eight events")
    product_events = [r for r in got if r.subject == pid]
    order_events = [r for r in got if r.app_id == "eshop-order"]
    # Per product and per order, in commit order; nothing else (restock-free: a release is no event).
    assert _types(product_events) == [
        "ProductCreated",
        "ProductUpdated",
        "StockLow",
        "ProductDeleted",
        "ProductUpdated",
    ]
    # In commit order per order; two orders' events in no promised order.
    assert _types([r for r in order_events if r.subject == confirmed.order_id]) == [
        "OrderConfirmed",
        "OrderCancelled",
    ]
    assert _types([r for r in order_events if r.subject == rejected.order_id]) == ["OrderRejected"]
    assert len(got) == 8
    for message in product_events:
        _check_envelope(
            message, source="/eshop/product", app_id="eshop-product", correlation_id="events-test-1"
        )
    for message in order_events:
        _check_envelope(message, source="/eshop/order", app_id="eshop-order", correlation_id="events-test-1")
    assert len({r.message_id for r in got}) == 8

    # Each carries the resource as it is right after its change.
    p_created, p_updated, stock_low, p_deleted, p_undeleted = product_events
    assert pev.ProductCreated.FromString(p_created.body).product == created
    update = pev.ProductUpdated.FromString(p_updated.body)
    assert update.product == updated and update.update_mask == FieldMask(paths=["name"])
    low = pev.StockLow.FromString(stock_low.body).product
    assert (low.stock_quantity, low.low_stock_threshold, low.name) == (2, 2, "Desk lamp")
    assert pev.ProductDeleted.FromString(p_deleted.body).product == deleted
    back = pev.ProductUpdated.FromString(p_undeleted.body)
    assert back.product == undeleted and back.update_mask == FieldMask(paths=["delete_time"])
    o_confirmed, o_cancelled, o_rejected = sorted(order_events, key=lambda r: r.subject != confirmed.order_id)
    assert oev.OrderConfirmed.FromString(o_confirmed.body).order == confirmed
    assert oev.OrderCancelled.FromString(o_cancelled.body).order == cancelled
    assert oev.OrderRejected.FromString(o_rejected.body).order == rejected


def test_restocks_releases_and_threshold_updates_publish_no_stock_low(
    services: Servers, tap: EventTap
) -> None:
    product_server = services.product()
    products = services.product_stub(product_server)
    orders = services.order_stub(services.order(product_server.port))
    pid = create_product(products, stock=3, low_stock_threshold=1).product_id

    products.RestockProduct(pb.RestockProductRequest(product_id=pid, quantity=1), timeout=10)  # 4
    products.UpdateProduct(
        pb.UpdateProductRequest(
            product=pb.Product(product_id=pid, low_stock_threshold=10),
            update_mask=FieldMask(paths=["low_stock_threshold"]),
        ),
        timeout=10,
    )  # 4 <= 10, by a threshold update: no StockLow
    order = orders.CreateOrder(order_request(new_id(), (pid, 1)), timeout=10)  # 3: already low, no StockLow
    orders.CancelOrder(opb.CancelOrderRequest(order_id=order.order_id), timeout=10)  # back to 4
    # A last change: a StockLow published by any of the above would come before it.
    products.DeleteProduct(pb.DeleteProductRequest(product_id=pid), timeout=10)

    got = tap.wait_for(lambda r: len(r) >= 5, 20, "five events")
    assert _types([r for r in got if r.subject == pid]) == [
        "ProductCreated",
        "ProductUpdated",
        "ProductDeleted",
    ]
    assert _types([r for r in got if r.subject == order.order_id]) == ["OrderConfirmed", "OrderCancelled"]


def _exchanges(rabbitmq: PrivateRabbit) -> dict[str, dict[str, object]]:
    listed = rabbitmq.ctl("list_exchanges", "name", "type", "durable", "arguments", "--formatter", "json")
    return {exchange["name"]: exchange for exchange in json.loads(listed)}


@pytest.mark.slow
@pytest.mark.once  # about the broker, not the interpreter or the database
def test_each_service_declares_the_exchange_when_it_starts(
    make_database_url: Callable[[str], str], rabbitmq: PrivateRabbit
) -> None:
    """Before publishing anything (a consumer binds its queue to the exchange and may start first or
    later): a durable topic exchange with no arguments. Nothing else declares these exchanges here."""
    for service in ("product", "order"):
        exchange = f"eshop.events.declared-by-{service}-{uuid4().hex[:8]}"
        services = publishing_servers(make_database_url, rabbitmq.url, exchange)
        try:
            if service == "product":
                services.product()
            else:
                services.order(free_port())  # no Product service: the exchange does not wait for one
            wait_until(
                lambda name=exchange: name in _exchanges(rabbitmq), 30, f"the {service} service's exchange"
            )
        finally:
            services.close()
        declared = _exchanges(rabbitmq)[exchange]
        assert (declared["type"], declared["durable"], declared["arguments"]) == ("topic", True, []), service
