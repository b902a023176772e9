"""Every request that passes validation gets its answer, and every answer fits a default client's 4 MiB
receive limit: list pages that would weigh more than the 3 MiB budget come back short with a
next_page_token that continues without losing or repeating an item (AIP-158); BatchGetProducts' id
limit is one whose largest answer fits. The clients here are default-configured channels."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from common.generated.eshop.order.v1 import order_pb2 as opb
from common.generated.eshop.product.v1 import product_pb2 as ppb
from common.grpc.response_size import CLIENT_RECEIVE_LIMIT_BYTES
from common.validation import MAX_BATCH_GET_IDS, MAX_DESCRIPTION_LENGTH, MAX_NAME_LENGTH
from tests.support.helpers import create_product, new_id, order_request
from tests.support.servers import OrderStub, ProductStub

WIDE = "\U0001f600"  # 4 bytes of UTF-8: the heaviest character a name or description may hold
LINES = 100  # the most an order may have
CALL_TIMEOUT_S = 30


def largest_products(products: ProductStub, count: int, *, stock: int = 2**31 - 1) -> list[str]:
    """``count`` products as heavy as validation allows, created concurrently; ids in creation order
    is not promised, so callers compare sets."""

    def make(i: int) -> str:
        product = create_product(
            products,
            name=f"{i:04d}" + WIDE * (MAX_NAME_LENGTH - 4),
            description=WIDE * MAX_DESCRIPTION_LENGTH,
            price="1000000.00",
            stock=stock,
            low_stock_threshold=2**31 - 1,
        )
        return str(product.product_id)

    with ThreadPoolExecutor(8) as pool:
        return list(pool.map(make, range(count)))


def follow(first: Callable[[str], tuple[list[str], str, int]]) -> list[tuple[int, int]]:
    """Pages until the last: (items, bytes) of each; checks every page fits a default client."""
    seen: list[tuple[int, int]] = []
    token = ""
    while True:
        ids, token, size = first(token)
        assert ids, "a page always has at least one item"
        assert size < CLIENT_RECEIVE_LIMIT_BYTES
        seen.append((len(ids), size))
        if not token:
            return seen


def test_list_orders_at_the_default_page_size_over_heavy_orders_comes_back_in_short_pages(
    product_stub: ProductStub, order_stub: OrderStub
) -> None:
    products = largest_products(product_stub, LINES, stock=1000)
    customer = new_id()
    placed = 40  # 40 orders of 100 heavy lines: about 3.4 MB, over the budget at the default page size
    request = order_request(customer, *[(p, 1) for p in products])
    with ThreadPoolExecutor(4) as pool:
        created = list(
            pool.map(lambda _: order_stub.CreateOrder(request, timeout=CALL_TIMEOUT_S), range(placed))
        )
    assert {o.status for o in created} == {opb.ORDER_STATUS_CONFIRMED}

    listed: list[str] = []

    def page(token: str) -> tuple[list[str], str, int]:
        response = order_stub.ListOrders(
            opb.ListOrdersRequest(customer_id=customer, page_token=token), timeout=CALL_TIMEOUT_S
        )
        ids = [o.order_id for o in response.orders]
        listed.extend(ids)
        return ids, response.next_page_token, response.ByteSize()

    pages = follow(page)

    assert len(pages) == 2 and pages[0][0] < placed, f"expected one short page, got {pages}"
    assert sorted(listed) == sorted(o.order_id for o in created)  # none lost, none repeated
    assert len(set(listed)) == len(listed)


def test_list_products_of_500_with_the_longest_descriptions_comes_back_in_short_pages(
    product_stub: ProductStub,
) -> None:
    created = largest_products(product_stub, 500)
    listed: list[str] = []

    def page(token: str) -> tuple[list[str], str, int]:
        response = product_stub.ListProducts(
            ppb.ListProductsRequest(page_size=500, page_token=token), timeout=CALL_TIMEOUT_S
        )
        ids = [p.product_id for p in response.products]
        listed.extend(ids)
        return ids, response.next_page_token, response.ByteSize()

    pages = follow(page)

    assert len(pages) == 2 and pages[0][0] < 500, f"expected one short page, got {pages}"
    assert sorted(listed) == sorted(created)  # none lost, none repeated
    assert len(set(listed)) == len(listed)


def test_batch_get_at_its_id_limit_answers_the_largest_products(product_stub: ProductStub) -> None:
    created = largest_products(product_stub, MAX_BATCH_GET_IDS)

    response = product_stub.BatchGetProducts(
        ppb.BatchGetProductsRequest(product_ids=created), timeout=CALL_TIMEOUT_S
    )

    assert [p.product_id for p in response.products] == created
    assert response.ByteSize() < CLIENT_RECEIVE_LIMIT_BYTES
