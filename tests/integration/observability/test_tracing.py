"""Traces across both services, exported over OTLP/gRPC by the SDK to a real receiver in this test.

The services run as child processes (as in production: one tracer provider, one ``service.name`` per
process), configured only by OpenTelemetry's variables. Exports are batched (100 ms here), so every
assertion waits for the spans it needs."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import grpc
import pytest

from common.generated.eshop.order.v1 import order_pb2
from tests.support.helpers import create_product, new_id, order_request, wait_until
from tests.support.otlp_receiver import OtlpReceiver, ReceivedSpan, running_otlp_receiver
from tests.support.processes import Services, base_env, running_services

CREATE = "eshop.order.v1.OrderService/CreateOrder"
RESERVE = "eshop.product.v1.ProductService/ReserveStock"
RELEASE = "eshop.product.v1.ProductService/ReleaseStock"
GET_ORDER = "eshop.order.v1.OrderService/GetOrder"
CANCEL = "eshop.order.v1.OrderService/CancelOrder"
CID = "eshop.correlation_id"
SPAN_TIMEOUT_S = 20.0
DURATION = "grpc.server.call.duration"


@pytest.fixture
def receiver() -> Iterator[OtlpReceiver]:
    with running_otlp_receiver() as running:
        yield running


@pytest.fixture
def traced_services(
    receiver: OtlpReceiver, make_database_url: Callable[[str], str], tmp_path: Path
) -> Iterator[Services]:
    telemetry = {
        "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint,
        "OTEL_BSP_SCHEDULE_DELAY": "100",
        "OTEL_TRACES_SAMPLER": "always_on",
        "OTEL_METRIC_EXPORT_INTERVAL": "200",
    }
    base = {k: v for k, v in base_env().items() if not k.startswith("OTEL_")}
    with running_services(make_database_url, tmp_path, {**base, **telemetry}) as running:
        yield running


def with_cid(cid: str) -> tuple[tuple[str, str], ...]:
    return (("x-correlation-id", cid),)


def one(spans: list[ReceivedSpan], what: str) -> ReceivedSpan:
    assert len(spans) == 1, f"{what}: {spans}"
    return spans[0]


def test_one_trace_per_call_across_both_services(receiver: OtlpReceiver, traced_services: Services) -> None:
    products, orders = traced_services.product_stub(), traced_services.order_stub()
    product_id = create_product(products, stock=3).product_id

    confirmed = orders.CreateOrder(
        order_request(new_id(), (product_id, 2), request_id=new_id()), timeout=10, metadata=with_cid("t-ok")
    )
    rejected = orders.CreateOrder(
        order_request(new_id(), (product_id, 5), request_id=new_id()), timeout=10, metadata=with_cid("t-rej")
    )
    assert (confirmed.status, rejected.status) == (
        order_pb2.ORDER_STATUS_CONFIRMED,
        order_pb2.ORDER_STATUS_REJECTED,
    )
    with pytest.raises(grpc.RpcError) as missing:
        orders.GetOrder(order_pb2.GetOrderRequest(order_id=new_id()), timeout=10, metadata=with_cid("t-nf"))
    assert missing.value.code() is grpc.StatusCode.NOT_FOUND

    # Confirmed order: Order SERVER -> Order CLIENT ReserveStock -> Product SERVER ReserveStock, one trace.
    spans = receiver.wait_for_spans(
        lambda s: (
            any(x.name == RESERVE and x.kind == "SERVER" and x.attributes.get(CID) == "t-ok" for x in s)
            and any(x.name == GET_ORDER for x in s)
        ),
        SPAN_TIMEOUT_S,
    )
    reserve_server = one(
        [s for s in spans if s.name == RESERVE and s.kind == "SERVER" and s.attributes.get(CID) == "t-ok"],
        "Product's ReserveStock span",
    )
    chain = receiver.chain(reserve_server)
    assert [(s.name, s.kind, s.service_name) for s in chain] == [
        (RESERVE, "SERVER", "eshop-product"),
        (RESERVE, "CLIENT", "eshop-order"),
        (CREATE, "SERVER", "eshop-order"),
    ]
    root = chain[-1]
    assert root.parent_span_id is None
    assert root.attributes["rpc.system"] == "grpc"
    assert root.attributes["rpc.service"] == "eshop.order.v1.OrderService"
    assert root.attributes["rpc.method"] == "CreateOrder"
    assert root.attributes["rpc.grpc.status_code"] == 0
    assert root.status == "UNSET"
    trace = receiver.trace(root.trace_id)
    assert {s.service_name for s in trace} == {"eshop-order", "eshop-product"}
    assert any(s.name == "db.transaction" and s.service_name == "eshop-product" for s in trace)
    assert any(s.name == "db.transaction" and s.service_name == "eshop-order" for s in trace)
    assert {s.attributes.get(CID) for s in trace} == {"t-ok"}  # every span of the call carries it

    # The rejected order is a trace of its own.
    rejected_root = one(
        [s for s in spans if s.name == CREATE and s.attributes.get(CID) == "t-rej"], "rejected"
    )
    assert rejected_root.trace_id != root.trace_id

    # NOT_FOUND, sent with abort_with_status: ERROR, code 5.
    not_found = one(receiver.spans_named(GET_ORDER), "GetOrder")
    assert (not_found.status, not_found.attributes["rpc.grpc.status_code"]) == ("ERROR", 5)
    assert not_found.attributes[CID] == "t-nf"

    # Metrics are pushed over OTLP too (every 200 ms here), per service.
    def exported(service: str, method: str, count: int) -> bool:
        point = receiver.latest_point(DURATION, service, **{"grpc.method": method, "grpc.status": "OK"})
        return point is not None and point.count == count

    wait_until(
        lambda: exported("eshop-order", CREATE, 2) and exported("eshop-product", RESERVE, 1),
        SPAN_TIMEOUT_S,
        "the call durations of both services over OTLP",
    )


def test_a_release_delivered_later_joins_the_cancellations_trace(
    receiver: OtlpReceiver, traced_services: Services
) -> None:
    products, orders = traced_services.product_stub(), traced_services.order_stub()
    product_id = create_product(products, stock=3).product_id
    order = orders.CreateOrder(order_request(new_id(), (product_id, 1), request_id=new_id()), timeout=10)

    traced_services.product.kill()  # the cancellation's immediate release fails: the outbox owns it
    cancelled = orders.CancelOrder(
        order_pb2.CancelOrderRequest(order_id=order.order_id), timeout=10, metadata=with_cid("t-cancel")
    )
    assert cancelled.status == order_pb2.ORDER_STATUS_CANCELLED
    traced_services.product.start()

    spans = receiver.wait_for_spans(
        lambda s: any(
            x.name == RELEASE and x.kind == "SERVER" and x.service_name == "eshop-product" for x in s
        ),
        SPAN_TIMEOUT_S,
    )
    cancel = one([s for s in spans if s.name == CANCEL], "CancelOrder")
    delivered = [s for s in spans if s.name == RELEASE and s.kind == "SERVER"]
    assert delivered and all(s.trace_id == cancel.trace_id for s in delivered)
    deliveries = [s for s in receiver.trace(cancel.trace_id) if s.name == "eshop.outbox.deliver"]
    assert deliveries, "the outbox delivery's own span"
    assert {s.attributes.get(CID) for s in receiver.trace(cancel.trace_id)} == {"t-cancel"}
