"""With no tracer provider installed (no OTLP endpoint), the services make no spans, yet the caller's
W3C trace context still reaches the Product service: what the API's no-op tracer did, without its
cost."""

from __future__ import annotations

from common import telemetry
from common.generated.eshop.order.v1 import order_pb2 as opb
from tests.support.helpers import create_product, new_id, order_request
from tests.support.interceptors import RESERVE, Record
from tests.support.servers import Servers

TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
TRACESTATE = "vendor=value"


def test_the_callers_trace_context_reaches_the_product_call(servers: Servers) -> None:
    assert not telemetry.installed()  # the test process installs no provider
    recorder = Record()
    product = servers.product(interceptors=(recorder,))
    orders = servers.order_stub(servers.order(product.port))
    lamp = create_product(servers.product_stub(product), stock=5)

    order = orders.CreateOrder(
        order_request(new_id(), (lamp.product_id, 1)),
        metadata=(("traceparent", TRACEPARENT), ("tracestate", TRACESTATE)),
        timeout=10,
    )

    assert order.status == opb.ORDER_STATUS_CONFIRMED
    [reserve] = recorder.of(RESERVE)
    assert ("traceparent", TRACEPARENT) in reserve.metadata
    assert ("tracestate", TRACESTATE) in reserve.metadata


def test_without_a_caller_trace_context_none_is_made_up(servers: Servers) -> None:
    recorder = Record()
    product = servers.product(interceptors=(recorder,))
    orders = servers.order_stub(servers.order(product.port))
    lamp = create_product(servers.product_stub(product), stock=5)

    orders.CreateOrder(order_request(new_id(), (lamp.product_id, 1)), timeout=10)

    [reserve] = recorder.of(RESERVE)
    assert not [k for k, _ in reserve.metadata if k in ("traceparent", "tracestate")]
