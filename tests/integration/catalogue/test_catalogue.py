"""Catalogue RPCs against a real server: create, get, list (paging), batch get, restock."""

from __future__ import annotations

import grpc
import pytest

from common.generated.eshop.product.v1 import product_pb2 as pb
from common.generated.eshop.product.v1 import product_pb2_grpc as pb_grpc
from common.pagination import encode_token
from tests.support.helpers import create_product, new_id, rich_details

Stub = pb_grpc.ProductServiceStub
PRODUCT = "eshop.product.v1.Product"


def test_create_returns_the_stored_product(product_stub: Stub) -> None:
    created = create_product(
        product_stub, name="Lamp", description="Desk", price="19.9", stock=7, low_stock_threshold=3
    )

    assert (created.name, created.description, created.price) == ("Lamp", "Desk", "19.90")
    assert (created.stock_quantity, created.low_stock_threshold) == (7, 3)
    assert created.create_time.seconds > 0
    assert created.create_time == created.update_time
    assert product_stub.GetProduct(pb.GetProductRequest(product_id=created.product_id)) == created


def test_create_refuses_a_bad_request_naming_each_field(product_stub: Stub) -> None:
    request = pb.CreateProductRequest(name="", price="19.999", stock_quantity=-1, low_stock_threshold=-2)

    with pytest.raises(grpc.RpcError) as raised:
        product_stub.CreateProduct(request)

    details = rich_details(raised.value)
    assert details.code is grpc.StatusCode.INVALID_ARGUMENT
    assert details.bad_fields == ["name", "price", "stock_quantity", "low_stock_threshold"]


def test_get_answers_with_an_upper_case_id_in_lower_case(product_stub: Stub) -> None:
    created = create_product(product_stub)
    found = product_stub.GetProduct(pb.GetProductRequest(product_id=created.product_id.upper()))
    assert found.product_id == created.product_id


def test_get_of_an_unknown_product_is_not_found_with_resource_info(product_stub: Stub) -> None:
    missing = new_id()

    with pytest.raises(grpc.RpcError) as raised:
        product_stub.GetProduct(pb.GetProductRequest(product_id=missing))

    details = rich_details(raised.value)
    assert details.code is grpc.StatusCode.NOT_FOUND
    assert [(r.resource_type, r.resource_name) for r in details.resources] == [(PRODUCT, missing)]


def test_get_with_a_malformed_id_is_invalid_argument(product_stub: Stub) -> None:
    with pytest.raises(grpc.RpcError) as raised:
        product_stub.GetProduct(pb.GetProductRequest(product_id="42"))
    details = rich_details(raised.value)
    assert (details.code, details.bad_fields) == (grpc.StatusCode.INVALID_ARGUMENT, ["product_id"])


def list_all(stub: Stub, page_size: int) -> tuple[list[str], int]:
    """Every product id, page by page, and the number of pages it took."""
    ids: list[str] = []
    token, pages = "", 0
    while True:
        page = stub.ListProducts(pb.ListProductsRequest(page_size=page_size, page_token=token))
        ids += [p.product_id for p in page.products]
        pages += 1
        token = page.next_page_token
        if not token:
            return ids, pages


def test_list_pages_through_every_product_once_oldest_first(product_stub: Stub) -> None:
    created = [create_product(product_stub, name=f"p{i}").product_id for i in range(7)]

    ids, pages = list_all(product_stub, page_size=3)

    assert ids == created
    assert pages == 3


def test_list_of_an_empty_catalogue_is_one_empty_page(product_stub: Stub) -> None:
    page = product_stub.ListProducts(pb.ListProductsRequest())
    assert (list(page.products), page.next_page_token) == ([], "")


def test_list_defaults_to_50_and_caps_at_500(product_stub: Stub) -> None:
    for i in range(501):
        create_product(product_stub, name=f"p{i}")

    default = product_stub.ListProducts(pb.ListProductsRequest(page_size=0))
    capped = product_stub.ListProducts(pb.ListProductsRequest(page_size=10_000))
    rest = product_stub.ListProducts(
        pb.ListProductsRequest(page_size=10_000, page_token=capped.next_page_token)
    )

    assert len(default.products) == 50 and default.next_page_token
    assert len(capped.products) == 500 and capped.next_page_token
    assert (len(rest.products), rest.next_page_token) == (1, "")


@pytest.mark.parametrize(
    "token",
    [
        "garbage!",
        encode_token({"offset": 3}),
        encode_token({"t": "2026-01-01T12:00:00", "id": "7f0cc2f0-2fd5-413e-846d-04baa8b00638"}),  # no zone
        encode_token({"t": "0001-01-01T00:00:00+01:00", "id": "7f0cc2f0-2fd5-413e-846d-04baa8b00638"}),
    ],
    ids=["not-base64-json", "other-keys", "naive-time", "time-out-of-range"],
)
def test_list_with_a_forged_token_is_invalid_argument(product_stub: Stub, token: str) -> None:
    create_product(product_stub)
    with pytest.raises(grpc.RpcError) as raised:
        product_stub.ListProducts(pb.ListProductsRequest(page_token=token))
    details = rich_details(raised.value)
    assert (details.code, details.bad_fields) == (grpc.StatusCode.INVALID_ARGUMENT, ["page_token"])


def test_list_with_a_negative_page_size_is_invalid_argument(product_stub: Stub) -> None:
    with pytest.raises(grpc.RpcError) as raised:
        product_stub.ListProducts(pb.ListProductsRequest(page_size=-1))
    assert rich_details(raised.value).bad_fields == ["page_size"]


def test_batch_get_answers_in_request_order(product_stub: Stub) -> None:
    a, b, c = (create_product(product_stub, name=n).product_id for n in "abc")

    found = product_stub.BatchGetProducts(pb.BatchGetProductsRequest(product_ids=[c, a, b]))

    assert [(p.product_id, p.name) for p in found.products] == [(c, "c"), (a, "a"), (b, "b")]


def test_batch_get_is_atomic_and_names_every_missing_product(product_stub: Stub) -> None:
    known = create_product(product_stub).product_id
    x, y = new_id(), new_id()

    with pytest.raises(grpc.RpcError) as raised:
        product_stub.BatchGetProducts(pb.BatchGetProductsRequest(product_ids=[x, known, y]))

    details = rich_details(raised.value)
    assert details.code is grpc.StatusCode.NOT_FOUND
    assert [(r.resource_type, r.resource_name) for r in details.resources] == [(PRODUCT, x), (PRODUCT, y)]


def test_restock_adds_the_quantity(product_stub: Stub) -> None:
    created = create_product(product_stub, stock=4)

    restocked = product_stub.RestockProduct(
        pb.RestockProductRequest(product_id=created.product_id, quantity=6)
    )

    assert restocked.stock_quantity == 10
    assert restocked.update_time.ToDatetime() >= created.update_time.ToDatetime()
    assert product_stub.GetProduct(pb.GetProductRequest(product_id=created.product_id)).stock_quantity == 10


@pytest.mark.parametrize(("bad_id", "quantity", "field"), [(True, 1, "product_id"), (False, 0, "quantity")])
def test_restock_refuses_bad_requests(product_stub: Stub, bad_id: bool, quantity: int, field: str) -> None:
    product_id = "nope" if bad_id else create_product(product_stub, stock=4).product_id
    with pytest.raises(grpc.RpcError) as raised:
        product_stub.RestockProduct(pb.RestockProductRequest(product_id=product_id, quantity=quantity))
    details = rich_details(raised.value)
    assert (details.code, details.bad_fields) == (grpc.StatusCode.INVALID_ARGUMENT, [field])


def test_restock_of_an_unknown_product_is_not_found(product_stub: Stub) -> None:
    missing = new_id()
    with pytest.raises(grpc.RpcError) as raised:
        product_stub.RestockProduct(pb.RestockProductRequest(product_id=missing, quantity=1))
    details = rich_details(raised.value)
    assert details.code is grpc.StatusCode.NOT_FOUND
    assert [r.resource_name for r in details.resources] == [missing]
