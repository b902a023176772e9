"""Catalogue use cases through the real mediator: create, get, list, batch get, restock."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from uuid import uuid4

import pytest

from common.errors import FailedPrecondition, InvalidArgument, PreconditionType, ResourceType
from common.mediator import Mediator
from common.pagination import encode_token
from common.validation import MAX_STOCK
from product.application import messages as m
from product.domain.errors import ProductNotFound
from tests.support.clock import T0, FixedClock
from tests.support.product_fakes import FakeProductUnitOfWork, make_product


async def test_create_stores_the_product_with_the_clock_time(
    mediator: Mediator, uow: FakeProductUnitOfWork, clock: FixedClock
) -> None:
    product = await mediator.send(m.CreateProduct("  Lamp  ", "A desk lamp", "19.90", 7, 2))

    assert (product.name, product.description, product.price) == ("Lamp", "A desk lamp", Decimal("19.90"))
    assert (product.stock_quantity, product.low_stock_threshold) == (7, 2)
    assert product.create_time == product.update_time == clock.now
    assert uow.committed_products == {product.product_id: product}
    assert uow.commits == 1


async def test_get_returns_the_product(mediator: Mediator, uow: FakeProductUnitOfWork) -> None:
    stored = make_product()
    uow.seed(stored)

    assert await mediator.send(m.GetProduct(str(stored.product_id))) == stored
    assert uow.commits == 0  # a query never commits


async def test_get_of_an_unknown_product_is_not_found_with_its_resource(mediator: Mediator) -> None:
    missing = uuid4()

    with pytest.raises(ProductNotFound) as raised:
        await mediator.send(m.GetProduct(str(missing)))

    resources = [(r.resource_type, r.resource_name) for r in raised.value.resources]
    assert resources == [(ResourceType.PRODUCT, str(missing))]


async def test_batch_get_answers_in_request_order(mediator: Mediator, uow: FakeProductUnitOfWork) -> None:
    a, b, c = make_product(), make_product(), make_product()
    uow.seed(a, b, c)

    found = await mediator.send(m.BatchGetProducts((str(c.product_id), str(a.product_id), str(c.product_id))))

    assert [p.product_id for p in found] == [c.product_id, a.product_id, c.product_id]


async def test_batch_get_is_all_or_nothing_and_names_each_missing_id_once(
    mediator: Mediator, uow: FakeProductUnitOfWork
) -> None:
    a = make_product()
    uow.seed(a)
    x, y = uuid4(), uuid4()

    with pytest.raises(ProductNotFound) as raised:
        await mediator.send(m.BatchGetProducts((str(x), str(a.product_id), str(y), str(x))))

    assert [r.resource_name for r in raised.value.resources] == [str(x), str(y)]


async def test_list_pages_oldest_first_until_the_last_page(
    mediator: Mediator, uow: FakeProductUnitOfWork
) -> None:
    products = [make_product(created=T0 + timedelta(minutes=i)) for i in range(5)]
    uow.seed(*reversed(products))

    first = await mediator.send(m.ListProducts(page_size=2))
    second = await mediator.send(m.ListProducts(page_size=2, page_token=first.next_page_token))
    third = await mediator.send(m.ListProducts(page_size=2, page_token=second.next_page_token))

    pages = [[p.product_id for p in page.products] for page in (first, second, third)]
    ids = [p.product_id for p in products]
    assert pages == [ids[0:2], ids[2:4], ids[4:5]]
    assert first.next_page_token and second.next_page_token
    assert third.next_page_token == ""


async def test_list_breaks_create_time_ties_by_id(mediator: Mediator, uow: FakeProductUnitOfWork) -> None:
    same_time = [make_product() for _ in range(3)]
    uow.seed(*same_time)

    first = await mediator.send(m.ListProducts(page_size=2))
    rest = await mediator.send(m.ListProducts(page_size=2, page_token=first.next_page_token))

    listed = [p.product_id for p in [*first.products, *rest.products]]
    assert listed == sorted(p.product_id for p in same_time)


@pytest.mark.parametrize(
    "token",
    [
        encode_token({"t": "yesterday", "id": str(uuid4())}),
        encode_token({"t": T0.isoformat(), "id": "not-a-uuid"}),
        encode_token({"t": "2026-01-01T12:00:00", "id": str(uuid4())}),  # naive: no zone
    ],
)
async def test_list_refuses_a_token_with_a_bad_position(mediator: Mediator, token: str) -> None:
    with pytest.raises(InvalidArgument) as raised:
        await mediator.send(m.ListProducts(page_token=token))

    assert [v.field for v in raised.value.violations] == ["page_token"]


async def test_restock_adds_to_the_available_stock(
    mediator: Mediator, uow: FakeProductUnitOfWork, clock: FixedClock
) -> None:
    stored = make_product(stock=3)
    uow.seed(stored)

    restocked = await mediator.send(m.RestockProduct(str(stored.product_id), 7))

    assert restocked.stock_quantity == 10
    assert restocked.update_time == clock.now
    assert uow.stock(stored.product_id) == 10


async def test_restock_of_an_unknown_product_is_not_found(mediator: Mediator) -> None:
    missing = uuid4()

    with pytest.raises(ProductNotFound) as raised:
        await mediator.send(m.RestockProduct(str(missing), 1))

    assert raised.value.product_ids == [missing]


async def test_restock_refuses_to_overflow_the_stock_column(
    mediator: Mediator, uow: FakeProductUnitOfWork
) -> None:
    stored = make_product(stock=MAX_STOCK - 5)
    uow.seed(stored)

    with pytest.raises(FailedPrecondition) as raised:
        await mediator.send(m.RestockProduct(str(stored.product_id), 6))

    assert [(v.type, v.subject) for v in raised.value.violations] == [
        (PreconditionType.STOCK_LIMIT, str(stored.product_id))
    ]
    assert uow.stock(stored.product_id) == MAX_STOCK - 5


async def test_restock_counts_reserved_units_against_the_limit(
    mediator: Mediator, uow: FakeProductUnitOfWork
) -> None:
    """Reserved units come back on release: a restock that fits only because they are out would make
    that release overflow the stock column."""
    stored = make_product(stock=MAX_STOCK)
    uow.seed(stored)
    await mediator.send(m.ReserveStock(str(uuid4()), (m.StockLine(str(stored.product_id), 10),)))

    with pytest.raises(FailedPrecondition) as raised:
        await mediator.send(m.RestockProduct(str(stored.product_id), 10))

    assert "reserved" in raised.value.message
    assert uow.stock(stored.product_id) == MAX_STOCK - 10  # the restock's update was rolled back
