"""The Product aggregate's changes and their rules (update, restock, delete, undelete, the etag), and the
effective update mask (AIP-134) the domain works out."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta
from decimal import Decimal

import pytest

from common.errors import ErrorCode, PreconditionType
from product.domain.changes import UPDATABLE_FIELDS, ProductChanges, effective_mask
from product.domain.errors import ProductIsDeleted, ProductNotDeleted, StaleEtag
from product.domain.model import Product
from tests.support.clock import T0
from tests.support.product_fakes import make_product

LATER = T0 + timedelta(hours=1)


@pytest.mark.parametrize(
    ("requested", "given", "mask"),
    [
        ((), ("price", "name"), ("name", "price")),  # no mask: the fields set, in the message's order
        ((), (), ()),
        (("price", "name", "price"), ("category",), ("price", "name")),  # the request's, each once
        (("*",), (), UPDATABLE_FIELDS),
        (("name", "*"), (), UPDATABLE_FIELDS),
        (("stock_quantity", "name"), (), ("name",)),  # validation refuses the rest before this is asked
    ],
)
def test_the_effective_mask(
    requested: tuple[str, ...], given: tuple[str, ...], mask: tuple[str, ...]
) -> None:
    assert effective_mask(requested, given) == mask


def test_an_update_sets_the_masked_fields_only_and_never_the_stock() -> None:
    product = make_product(stock=7, name="Mug", price="4.00", category="mugs")
    before = replace(product)

    product.update(ProductChanges(("price", "category"), price=Decimal("5.50"), category=""), LATER)

    assert product == replace(before, price=Decimal("5.50"), category="", update_time=LATER)


def test_an_update_can_clear_the_description_and_set_the_threshold_to_zero() -> None:
    product = replace(make_product(), description="Blue", low_stock_threshold=4)

    product.update(
        ProductChanges(("description", "low_stock_threshold"), description="", low_stock_threshold=0), LATER
    )

    assert (product.description, product.low_stock_threshold) == ("", 0)


def test_a_deleted_product_cannot_be_updated_restocked_or_deleted_again() -> None:
    product = make_product(stock=3, deleted=T0)
    before = replace(product)

    changes: list[Callable[[], None]] = [
        lambda: product.update(ProductChanges(("name",), name="New"), LATER),
        lambda: product.restock(5, LATER),
        lambda: product.delete(LATER),
    ]
    for change in changes:
        with pytest.raises(ProductIsDeleted) as raised:
            change()
        assert raised.value.code is ErrorCode.FAILED_PRECONDITION
        assert [(v.type, v.subject) for v in raised.value.violations] == [
            (PreconditionType.PRODUCT_DELETED, str(product.product_id))
        ]
    assert product == before


def test_delete_then_undelete() -> None:
    product = make_product()

    product.delete(LATER)
    assert (product.deleted, product.delete_time, product.update_time) == (True, LATER, LATER)

    product.undelete(LATER + timedelta(seconds=1))
    assert (product.deleted, product.delete_time, product.update_time) == (
        False,
        None,
        LATER + timedelta(seconds=1),
    )


def test_undeleting_a_live_product_is_a_failed_precondition() -> None:
    product = make_product()
    before = replace(product)

    with pytest.raises(ProductNotDeleted) as raised:
        product.undelete(LATER)

    assert [(v.type, v.subject) for v in raised.value.violations] == [
        (PreconditionType.PRODUCT_NOT_DELETED, str(product.product_id))
    ]
    assert product == before


def test_restock_adds_to_a_live_products_stock() -> None:
    product = make_product(stock=3)
    product.restock(4, LATER)
    assert (product.stock_quantity, product.update_time) == (7, LATER)


def test_the_etag_is_the_version_and_a_stale_one_is_aborted() -> None:
    product: Product = replace(make_product(), version=3)
    assert product.etag == "3"
    product.require_etag("")  # none given: no check
    product.require_etag(product.etag)

    for stale in ("2", "4", "garbage"):
        with pytest.raises(StaleEtag) as raised:
            product.require_etag(stale)
        assert raised.value.code is ErrorCode.ABORTED
        assert str(product.product_id) in raised.value.message


def test_a_change_the_state_refuses_is_refused_as_such_whatever_the_etag() -> None:
    # A delete retried with the etag the first one was sent with is "deleted again", not "stale".
    product = make_product()
    sent = product.etag
    product.delete(LATER, etag=sent)
    product.version += 1  # as storage records the delete

    for change in (
        lambda: product.delete(LATER, etag=sent),
        lambda: product.update(ProductChanges(("name",), name="New"), LATER, etag=sent),
    ):
        with pytest.raises(ProductIsDeleted):
            change()
    with pytest.raises(ProductNotDeleted):
        make_product().undelete(LATER, etag="stale")


def test_a_change_the_state_allows_still_needs_the_current_etag() -> None:
    product: Product = replace(make_product(), version=2)
    before = replace(product)
    changes: list[Callable[[], None]] = [
        lambda: product.update(ProductChanges(("name",), name="New"), LATER, etag="1"),
        lambda: product.delete(LATER, etag="1"),
    ]
    for change in changes:
        with pytest.raises(StaleEtag):
            change()
    assert product == before
