"""The Product service down or hung: creates fail UNAVAILABLE, cancels succeed (promptly), and queued
releases land once it is back (a new server on the same port and database), carrying the id of the
call that queued them."""

from __future__ import annotations

import time

import grpc
import pytest

from common.correlation import HEADER
from common.generated.eshop.order.v1 import order_pb2 as opb
from order.application.order_handlers import UNAVAILABLE_REASON
from order.settings import OrderSettings
from tests.support.helpers import (
    create_product,
    get_order,
    new_id,
    only_order,
    order_request,
    rpc_failure,
    stock,
    wait_until,
)
from tests.support.interceptors import RELEASE, Block, Record
from tests.support.servers import Servers

FAST_RETRIES = {"product_retry_initial_backoff_s": 0.02, "product_retry_max_backoff_s": 0.05}
OUTAGE_S = 90


def test_create_with_the_product_service_down_is_unavailable(servers: Servers) -> None:
    product = servers.product()
    orders = servers.order_stub(servers.order(product.port, **FAST_RETRIES))
    lamp_id = create_product(servers.product_stub(product), stock=5).product_id
    servers.stop(product)

    failure = rpc_failure(orders.CreateOrder, order_request(new_id(), (lamp_id, 1)))

    assert failure.code() == grpc.StatusCode.UNAVAILABLE
    order = only_order(orders)
    assert order.status == opb.ORDER_STATUS_REJECTED
    assert order.status_reason == UNAVAILABLE_REASON


def test_cancel_while_down_succeeds_and_the_release_lands_after_a_restart(servers: Servers) -> None:
    product_db = servers.database_url("product")
    product = servers.product(database_url=product_db)
    orders = servers.order_stub(servers.order(product.port, **FAST_RETRIES))
    lamp_id = create_product(servers.product_stub(product), stock=10).product_id
    order = orders.CreateOrder(order_request(new_id(), (lamp_id, 4)), timeout=10)
    assert order.status == opb.ORDER_STATUS_CONFIRMED
    servers.stop(product)

    cancelled = orders.CancelOrder(
        opb.CancelOrderRequest(order_id=order.order_id), metadata=((HEADER, "cancel-cid-x"),), timeout=10
    )

    assert cancelled.status == opb.ORDER_STATUS_CANCELLED
    assert get_order(orders, order.order_id).status == opb.ORDER_STATUS_CANCELLED

    recorder = Record()
    restarted = servers.product(port=product.port, database_url=product_db, interceptors=(recorder,))
    products = servers.product_stub(restarted)

    wait_until(lambda: stock(products, lamp_id) == 10, 20, "the stock to be released back to 10")
    releases = recorder.of(RELEASE)
    assert releases, "the stock came back without a ReleaseStock call"
    assert {r.order_id for r in releases} == {order.order_id}
    assert all(r.correlation_ids == ["cancel-cid-x"] for r in releases)


def test_a_create_that_failed_while_down_has_its_release_delivered_later(servers: Servers) -> None:
    product_db = servers.database_url("product")
    product = servers.product(database_url=product_db)
    orders = servers.order_stub(servers.order(product.port, **FAST_RETRIES))
    lamp_id = create_product(servers.product_stub(product), stock=3).product_id
    servers.stop(product)
    rpc_failure(
        orders.CreateOrder, order_request(new_id(), (lamp_id, 1)), metadata=((HEADER, "create-cid-y"),)
    )
    order_id = only_order(orders).order_id

    recorder = Record()
    servers.product(port=product.port, database_url=product_db, interceptors=(recorder,))

    wait_until(lambda: bool(recorder.of(RELEASE)), 20, "a ReleaseStock call")
    release = recorder.of(RELEASE)[0]
    assert (release.order_id, release.correlation_ids) == (order_id, ["create-cid-y"])


def test_cancel_while_the_product_service_hangs_answers_cancelled_and_the_outbox_releases_later(
    servers: Servers,
) -> None:
    hang = Block(RELEASE)
    servers.unblock.append(hang.release)
    product = servers.product(interceptors=(hang,))
    products = servers.product_stub(product)
    orders = servers.order_stub(servers.order(product.port))
    lamp_id = create_product(products, stock=10).product_id
    order = orders.CreateOrder(order_request(new_id(), (lamp_id, 4)), timeout=10)
    assert order.status == opb.ORDER_STATUS_CONFIRMED

    # Shorter than one Product call's own timeout (5 s): the answer must not wait for the release.
    cancelled = orders.CancelOrder(opb.CancelOrderRequest(order_id=order.order_id), timeout=3)

    assert cancelled.status == opb.ORDER_STATUS_CANCELLED
    assert get_order(orders, order.order_id).status == opb.ORDER_STATUS_CANCELLED
    assert stock(products, lamp_id) == 6  # the release is still hanging
    hang.release.set()
    wait_until(lambda: stock(products, lamp_id) == 10, 20, "the stock to be released back to 10")


@pytest.mark.slow
@pytest.mark.once  # about 100 s, and about the channel, not the interpreter or the database
def test_after_a_90_second_outage_the_releases_land_within_10_s_of_the_product_service_being_back(
    servers: Servers,
) -> None:
    """With the default settings: gRPC's own connection backoff (up to 120 s) left releases waiting up
    to half a minute after such an outage; the bounded one, and the outbox trying whatever waits as
    soon as the channel is connected again, land them within seconds."""
    defaults = OrderSettings()
    product_db = servers.database_url("product")
    product = servers.product(database_url=product_db)
    orders = servers.order_stub(
        servers.order(
            product.port,
            outbox_poll_interval_s=defaults.outbox_poll_interval_s,
            outbox_initial_backoff_s=defaults.outbox_initial_backoff_s,
            outbox_max_backoff_s=defaults.outbox_max_backoff_s,
        )
    )
    lamp_id = create_product(servers.product_stub(product), stock=10).product_id
    placed = [orders.CreateOrder(order_request(new_id(), (lamp_id, 2)), timeout=10) for _ in range(3)]
    assert {o.status for o in placed} == {opb.ORDER_STATUS_CONFIRMED}
    servers.stop(product)
    for order in placed:  # each release fails at once and waits in the outbox
        orders.CancelOrder(opb.CancelOrderRequest(order_id=order.order_id), timeout=10)

    time.sleep(OUTAGE_S)  # the outage itself: the outbox and the channel keep trying meanwhile

    products = servers.product_stub(servers.product(port=product.port, database_url=product_db))
    back = "the releases, within 10 s of the Product service being back"
    wait_until(lambda: stock(products, lamp_id) == 10, 10, back)
