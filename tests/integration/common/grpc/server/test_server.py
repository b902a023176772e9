"""Cross-cutting behaviour of the running server: correlation ids, health, reflection."""

from __future__ import annotations

from collections.abc import Iterable
from uuid import UUID

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from common.correlation import HEADER
from common.generated.eshop.product.v1 import product_pb2 as pb
from common.generated.eshop.product.v1 import product_pb2_grpc as pb_grpc
from tests.support.helpers import new_id

Stub = pb_grpc.ProductServiceStub


def header(metadata: Iterable[tuple[str, str]]) -> list[str]:
    return [v for k, v in metadata if k == HEADER]


def is_uuid4(value: str) -> bool:
    return str(UUID(value)) == value and UUID(value).version == 4


def test_a_valid_correlation_id_is_echoed_in_initial_metadata(product_stub: Stub) -> None:
    _, call = product_stub.ListProducts.with_call(
        pb.ListProductsRequest(), metadata=[(HEADER, "checkout-42.a:b_c")]
    )
    assert header(call.initial_metadata()) == ["checkout-42.a:b_c"]


def test_without_a_correlation_id_the_server_makes_one(product_stub: Stub) -> None:
    _, call = product_stub.ListProducts.with_call(pb.ListProductsRequest())
    [echoed] = header(call.initial_metadata())
    assert is_uuid4(echoed)


@pytest.mark.parametrize("sent", ["bad id!", "x" * 200, "a/b"])
def test_an_invalid_correlation_id_is_replaced_by_a_fresh_uuid(product_stub: Stub, sent: str) -> None:
    _, call = product_stub.ListProducts.with_call(pb.ListProductsRequest(), metadata=[(HEADER, sent)])
    [echoed] = header(call.initial_metadata())
    assert echoed != sent
    assert is_uuid4(echoed)


def test_each_call_without_an_id_gets_its_own(product_stub: Stub) -> None:
    ids = {
        header(product_stub.ListProducts.with_call(pb.ListProductsRequest())[1].initial_metadata())[0]
        for _ in range(3)
    }
    assert len(ids) == 3


@pytest.mark.parametrize(
    ("request_", "code"),
    [
        (pb.GetProductRequest(product_id="nope"), grpc.StatusCode.INVALID_ARGUMENT),
        (pb.GetProductRequest(product_id=new_id()), grpc.StatusCode.NOT_FOUND),
    ],
)
def test_error_responses_carry_the_correlation_id_too(
    product_stub: Stub, request_: pb.GetProductRequest, code: grpc.StatusCode
) -> None:
    with pytest.raises(grpc.RpcError) as raised:
        product_stub.GetProduct(request_, metadata=[(HEADER, "cid-err-1")])

    error = raised.value
    assert error.code() is code
    assert header(error.initial_metadata()) == ["cid-err-1"]
    assert header(error.trailing_metadata()) == ["cid-err-1"]


def test_health_reports_serving_overall_and_for_the_product_service(product_channel: grpc.Channel) -> None:
    health = health_pb2_grpc.HealthStub(product_channel)
    for service in ("", "eshop.product.v1.ProductService"):
        response = health.Check(health_pb2.HealthCheckRequest(service=service), timeout=5)
        assert response.status == health_pb2.HealthCheckResponse.SERVING


def test_health_of_an_unknown_service_is_not_found(product_channel: grpc.Channel) -> None:
    health = health_pb2_grpc.HealthStub(product_channel)
    with pytest.raises(grpc.RpcError) as raised:
        health.Check(health_pb2.HealthCheckRequest(service="no.such.Service"), timeout=5)
    assert raised.value.code() is grpc.StatusCode.NOT_FOUND


def test_reflection_lists_the_product_service(product_channel: grpc.Channel) -> None:
    reflection = reflection_pb2_grpc.ServerReflectionStub(product_channel)
    request = reflection_pb2.ServerReflectionRequest(list_services="")

    [response] = list(reflection.ServerReflectionInfo(iter([request]), timeout=5))

    names = {s.name for s in response.list_services_response.service}
    assert {"eshop.product.v1.ProductService", "grpc.health.v1.Health"} <= names
