"""Every validation rule of the contract, each naming the field it refuses (google.rpc.BadRequest)."""

from __future__ import annotations

from decimal import Decimal
from uuid import uuid4

import pytest

from common.errors import ErrorCode, InvalidArgument
from common.mediator import Mediator, Request
from product.application import messages as m
from tests.support.product_fakes import FakeProductUnitOfWork

ORDER = str(uuid4())
P1, P2 = str(uuid4()), str(uuid4())
MALFORMED_UUIDS = [
    "not-a-uuid",
    "1234",
    "0123456789abcdef0123456789abcdef",  # bare hex
    "{12345678-1234-1234-1234-1234567890ab}",
    "urn:uuid:12345678-1234-1234-1234-1234567890ab",
    "urn:0123456789abcdef0123456789abcdef",  # 36 characters, still not a UUID
    "0123456789abcdef0123456789abcdef----",  # 36 characters, hyphens misplaced
    "١٢٣٤٥٦٧٨-1234-1234-1234-1234567890ab",  # non-ASCII digits
    " 12345678-1234-1234-1234-1234567890ab",
]


def line(product_id: str = P1, quantity: int = 1) -> m.StockLine:
    return m.StockLine(product_id, quantity)


def product(**changes: object) -> m.CreateProduct:
    fields: dict[str, object] = {
        "name": "Lamp",
        "description": "",
        "price": "19.99",
        "stock_quantity": 1,
        "low_stock_threshold": 0,
    }
    return m.CreateProduct(**{**fields, **changes})  # type: ignore[arg-type]


def refused_fields(message: Request[object]) -> list[str]:
    with pytest.raises(InvalidArgument) as raised:
        message.validate()
    assert raised.value.code is ErrorCode.INVALID_ARGUMENT
    return [v.field for v in raised.value.violations]


@pytest.mark.parametrize("bad", MALFORMED_UUIDS)
async def test_malformed_uuids_are_refused_in_every_id_field(bad: str) -> None:
    assert refused_fields(m.ReserveStock(bad, (line(),))) == ["order_id"]
    assert refused_fields(m.ReserveStock(ORDER, (line(bad),))) == ["items[0].product_id"]
    assert refused_fields(m.ReleaseStock(bad)) == ["order_id"]
    assert refused_fields(m.GetReservation(bad)) == ["order_id"]
    assert refused_fields(m.GetProduct(bad)) == ["product_id"]
    assert refused_fields(m.RestockProduct(bad, 1)) == ["product_id"]
    assert refused_fields(m.BatchGetProducts((P1, bad))) == ["product_ids[1]"]


async def test_an_empty_id_is_required() -> None:
    assert refused_fields(m.GetProduct("")) == ["product_id"]
    assert refused_fields(m.ReleaseStock("")) == ["order_id"]


async def test_upper_case_uuids_are_accepted() -> None:
    m.ReserveStock(ORDER.upper(), (line(P1.upper()),)).validate()
    m.GetProduct(P1.upper()).validate()


async def test_a_reservation_needs_items() -> None:
    assert refused_fields(m.ReserveStock(ORDER, ())) == ["items"]


async def test_a_reservation_has_at_most_100_lines() -> None:
    m.ReserveStock(ORDER, tuple(line(str(uuid4())) for _ in range(100))).validate()
    assert refused_fields(m.ReserveStock(ORDER, tuple(line(str(uuid4())) for _ in range(101)))) == ["items"]


async def test_the_same_product_twice_is_refused_whatever_its_case() -> None:
    command = m.ReserveStock(ORDER, (line(P1), line(P2), line(P1.upper(), 3)))
    assert refused_fields(command) == ["items[2].product_id"]


@pytest.mark.parametrize("quantity", [0, -1, 10_001, 2**31 - 1])
async def test_quantity_out_of_1_to_10000_is_refused(quantity: int) -> None:
    assert refused_fields(m.ReserveStock(ORDER, (line(P1, 1), line(P2, quantity)))) == ["items[1].quantity"]


@pytest.mark.parametrize("quantity", [1, 10_000])
async def test_quantity_bounds_are_inclusive(quantity: int) -> None:
    m.ReserveStock(ORDER, (line(P1, quantity),)).validate()


@pytest.mark.parametrize("quantity", [0, -1, -(2**31)])
async def test_restock_below_1_is_refused(quantity: int) -> None:
    assert refused_fields(m.RestockProduct(P1, quantity)) == ["quantity"]


@pytest.mark.parametrize("quantity", [1, 10_001, 2**31 - 1])
async def test_restock_has_no_cap_but_the_stock_range(quantity: int) -> None:
    m.RestockProduct(P1, quantity).validate()


async def test_every_bad_field_is_named_at_once() -> None:
    command = m.ReserveStock("nope", (line("bad", 0),))
    assert refused_fields(command) == ["order_id", "items[0].product_id", "items[0].quantity"]


@pytest.mark.parametrize("name", ["", "   ", "x" * 201])
async def test_name_empty_or_longer_than_200_is_refused(name: str) -> None:
    assert refused_fields(product(name=name)) == ["name"]


async def test_name_of_200_and_description_of_2000_characters_are_accepted() -> None:
    product(name="x" * 200, description="d" * 2000).validate()


async def test_description_longer_than_2000_is_refused() -> None:
    assert refused_fields(product(description="d" * 2001)) == ["description"]


@pytest.mark.parametrize("price", ["19.99", "0", "0.5", "1000000", "1000000.00", "7"])
async def test_good_prices_are_accepted(price: str) -> None:
    product(price=price).validate()


@pytest.mark.parametrize(
    "price",
    [
        *("19.999", "-1", "-0.01", "1000000.01", "abc", "1e3", "", " 1", "1 ", "NaN", "Infinity"),
        *("1_000", "0x10", "+5", "-0", "1.", ".5", "\u0661\u0669.\u0669\u0669", "12345678"),
    ],
)
async def test_bad_prices_are_refused(price: str) -> None:
    assert refused_fields(product(price=price)) == ["price"]


async def test_negative_stock_and_threshold_are_refused() -> None:
    assert refused_fields(product(stock_quantity=-1)) == ["stock_quantity"]
    assert refused_fields(product(low_stock_threshold=-1)) == ["low_stock_threshold"]
    assert refused_fields(product(stock_quantity=-1, low_stock_threshold=-1, name="")) == [
        "name",
        "stock_quantity",
        "low_stock_threshold",
    ]


async def test_negative_page_size_is_refused_and_zero_is_allowed() -> None:
    assert refused_fields(m.ListProducts(page_size=-1)) == ["page_size"]
    m.ListProducts(page_size=0).validate()


async def test_batch_get_takes_at_most_350_ids() -> None:
    m.BatchGetProducts(tuple(P1 for _ in range(350))).validate()
    assert refused_fields(m.BatchGetProducts(tuple(P1 for _ in range(351)))) == ["product_ids"]


async def test_the_pipeline_refuses_before_any_unit_of_work_opens(
    mediator: Mediator, uow: FakeProductUnitOfWork
) -> None:
    with pytest.raises(InvalidArgument) as raised:
        await mediator.send(m.ReserveStock(ORDER, ()))

    assert [v.field for v in raised.value.violations] == ["items"]
    assert (uow.entered, uow.commits) == (0, 0)


def update(**fields: object) -> m.UpdateProduct:
    return m.UpdateProduct(**{"product_id": P1, **fields})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "path",
    ["stock_quantity", "product_id", "create_time", "update_time", "delete_time", "etag", "colour", ""],
)
async def test_a_mask_naming_a_field_that_is_not_updatable_is_refused_naming_it(path: str) -> None:
    command = update(update_mask=("name", path), name="Lamp")
    with pytest.raises(InvalidArgument) as raised:
        command.validate()
    [violation] = raised.value.violations
    assert violation.field == "update_mask.paths[1]"
    assert repr(path) in violation.description and "not an updatable field" in violation.description


@pytest.mark.parametrize("path", ["name", "description", "price", "low_stock_threshold", "category", "*"])
async def test_every_updatable_field_and_the_wildcard_may_be_named(path: str) -> None:
    update(update_mask=(path,), name="Lamp", price="1.00").validate()


async def test_an_update_that_names_nothing_and_sets_nothing_is_refused() -> None:
    assert refused_fields(update()) == ["update_mask"]
    assert refused_fields(update(update_mask=())) == ["update_mask"]


async def test_an_update_applies_the_create_rules_to_the_fields_it_changes_named_as_in_the_request() -> None:
    assert refused_fields(update(product_id="nope", name="x" * 201)) == ["product.product_id", "product.name"]
    assert refused_fields(
        update(update_mask=("*",), name="", price="1.999", low_stock_threshold=-1, category="Shoes")
    ) == ["product.name", "product.price", "product.low_stock_threshold", "product.category"]
    assert refused_fields(update(update_mask=("description",), description="d" * 2001)) == [
        "product.description"
    ]
    # A field outside the mask is not the update's business, whatever it holds.
    update(update_mask=("name",), name="Lamp", price="not a price").validate()


async def test_without_a_mask_the_fields_set_are_the_ones_changed() -> None:
    command = update(name=" Lamp ", price="2.50", etag="7")
    assert command.mask() == ("name", "price")
    changes = command.changes()
    assert (changes.mask, changes.name, changes.price, changes.description) == (
        ("name", "price"),
        "Lamp",
        Decimal("2.50"),
        None,
    )


async def test_a_masked_field_at_its_default_clears_it() -> None:
    changes = update(update_mask=("description", "low_stock_threshold", "category")).changes()
    assert (changes.description, changes.low_stock_threshold, changes.category, changes.name) == (
        "",
        0,
        "",
        None,
    )


@pytest.mark.parametrize("category", ["", "shoes", "a", "running-shoes-2", "0", "-", "c" * 50])
async def test_good_categories_are_accepted(category: str) -> None:
    product(category=category).validate()
    update(update_mask=("category",), category=category).validate()
    m.ListProducts(category=category).validate()


@pytest.mark.parametrize("category", ["Shoes", "running shoes", "shoes_2", "é", " shoes", "c" * 51, "a\x00"])
async def test_bad_categories_are_refused_everywhere(category: str) -> None:
    assert refused_fields(product(category=category)) == ["category"]
    assert refused_fields(update(update_mask=("category",), category=category)) == ["product.category"]
    assert refused_fields(m.ListProducts(category=category)) == ["category"]


@pytest.mark.parametrize("message", [m.DeleteProduct, m.UndeleteProduct])
@pytest.mark.parametrize("bad", ["", "nope", MALFORMED_UUIDS[3]])
async def test_delete_and_undelete_need_a_product_id(message: type[m.DeleteProduct], bad: str) -> None:
    assert refused_fields(message(bad)) == ["product_id"]
    message(P1, etag="anything").validate()
