"""The byte accounting behind short pages and BatchGetProducts' id limit (common.grpc.response_size)."""

from __future__ import annotations

from google.protobuf.timestamp_pb2 import Timestamp

from common.generated.eshop.product.v1 import product_pb2 as pb
from common.grpc.response_size import (
    CLIENT_RECEIVE_LIMIT_BYTES,
    RESPONSE_BUDGET_BYTES,
    entry_bytes,
    fitting,
)
from common.validation import MAX_BATCH_GET_IDS, MAX_DESCRIPTION_LENGTH, MAX_NAME_LENGTH, MAX_PRICE, MAX_STOCK

WIDE = "\U0001f600"  # 4 bytes of UTF-8
LAST_TIME = Timestamp(seconds=253402300799, nanos=999_999_999)  # 9999-12-31T23:59:59.999999999Z


def largest_product() -> pb.Product:
    """The heaviest Product validation lets through: every field at its widest."""
    return pb.Product(
        product_id="7d3f7c8e-6a51-4f7e-9a55-0c8b1c2d3e4f",
        name=WIDE * MAX_NAME_LENGTH,
        description=WIDE * MAX_DESCRIPTION_LENGTH,
        price=f"{MAX_PRICE}.00",
        stock_quantity=MAX_STOCK,
        low_stock_threshold=MAX_STOCK,
        create_time=LAST_TIME,
        update_time=LAST_TIME,
    )


def test_the_largest_batch_get_answer_fits_the_budget() -> None:
    heaviest = pb.BatchGetProductsResponse(products=[largest_product()] * MAX_BATCH_GET_IDS)

    assert heaviest.ByteSize() == MAX_BATCH_GET_IDS * entry_bytes(largest_product()) == 350 * 8_901
    assert heaviest.ByteSize() <= RESPONSE_BUDGET_BYTES < CLIENT_RECEIVE_LIMIT_BYTES


def test_entry_bytes_is_what_a_repeated_entry_adds_to_the_response() -> None:
    small = pb.Product(product_id="p", name="Mug")
    for product in (small, largest_product()):
        assert pb.ListProductsResponse(products=[product]).ByteSize() == entry_bytes(product)


def test_fitting_keeps_the_leading_items_within_the_budget_and_at_least_one() -> None:
    one = entry_bytes(largest_product())
    products = [largest_product()] * 10

    assert fitting(products, budget=3 * one) == 3
    assert fitting(products, budget=3 * one - 1) == 2
    assert fitting(products, budget=1) == 1  # a page always has an item
    assert fitting(products, budget=100 * one) == 10
    assert fitting([], budget=1) == 0
