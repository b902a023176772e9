"""Which change of a product raises which event: creation, an update (with its effective mask), a delete,
an undelete, and a reservation only when it takes the stock from above the threshold to at or below it."""

from __future__ import annotations

from decimal import Decimal
from uuid import uuid4

import pytest

from product.domain.changes import ProductChanges
from product.domain.events import (
    ProductCreated,
    ProductDeleted,
    ProductUndeleted,
    ProductUpdated,
    StockLow,
)
from product.domain.model import Product
from tests.support.clock import T0


def product(stock: int = 10, threshold: int = 3) -> Product:
    made = Product.create(
        product_id=uuid4(),
        name="Lamp",
        description="",
        price=Decimal("1.00"),
        stock_quantity=stock,
        low_stock_threshold=threshold,
        now=T0,
    )
    made.events.clear()
    return made


def test_creation_raises_product_created_and_never_stock_low() -> None:
    created = Product.create(
        product_id=uuid4(),
        name="Lamp",
        description="",
        price=Decimal("1.00"),
        stock_quantity=0,
        low_stock_threshold=5,
        now=T0,
    )
    assert created.events == [ProductCreated()]


def test_an_update_raises_product_updated_with_its_effective_mask() -> None:
    lamp = product()
    lamp.update(ProductChanges(("name", "low_stock_threshold"), name="Desk lamp", low_stock_threshold=50), T0)
    # A threshold raised above the stock is no StockLow.
    assert lamp.events == [ProductUpdated(("name", "low_stock_threshold"))]


def test_delete_and_undelete_raise_their_events() -> None:
    lamp = product()
    lamp.delete(T0)
    lamp.undelete(T0)
    assert lamp.events == [ProductDeleted(), ProductUndeleted()]


def test_a_refused_change_raises_nothing() -> None:
    lamp = product()
    lamp.delete(T0)
    lamp.events.clear()
    with pytest.raises(Exception, match="deleted"):
        lamp.update(ProductChanges(("name",), name="x"), T0)
    assert lamp.events == []


@pytest.mark.parametrize(
    ("after", "taken", "threshold", "low"),
    [
        (3, 1, 3, True),  # 4 -> 3: reaches the threshold
        (0, 10, 3, True),  # 10 -> 0: far below
        (4, 1, 3, False),  # 5 -> 4: still above
        (2, 1, 3, False),  # 3 -> 2: was at the threshold already
        (0, 1, 0, True),  # 1 -> 0 with a threshold of 0
    ],
)
def test_a_reservation_raises_stock_low_only_when_it_crosses_the_threshold(
    after: int, taken: int, threshold: int, low: bool
) -> None:
    lamp = product(stock=after, threshold=threshold)  # as storage's decrement left it
    lamp.took(taken)
    assert lamp.events == ([StockLow()] if low else [])


def test_a_restock_raises_nothing() -> None:
    lamp = product(stock=0)
    lamp.restock(5, T0)
    assert lamp.events == []
