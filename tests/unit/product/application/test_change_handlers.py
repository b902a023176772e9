"""UpdateProduct, DeleteProduct, UndeleteProduct (and the etag and deletion as the stock use cases see
them) through the real mediator and pipeline, on the in-memory unit of work."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

import pytest

from common import call_context
from common.behaviours import default_pipeline
from common.errors import Aborted, DeadlineExceeded, FailedPrecondition, NotFound
from common.mediator import Mediator
from product.application import messages as m
from product.application.change_handlers import (
    DeleteProductHandler,
    UndeleteProductHandler,
    UpdateProductHandler,
)
from product.application.outcomes import NoOutcomes
from product.application.stock_handlers import ReserveStockHandler
from product.domain.errors import ProductIsDeleted, ProductNotDeleted, ProductNotFound, StaleEtag
from product.domain.model import Product
from tests.support.clock import T0, FixedClock
from tests.support.product_fakes import FakeProductRepository, FakeProductUnitOfWork, make_product


def seeded(uow: FakeProductUnitOfWork, **fields: Any) -> Product:
    product = make_product(**fields)
    uow.seed(product)
    return product


async def test_an_update_changes_the_masked_fields_and_the_etag_and_commits(
    mediator: Mediator, uow: FakeProductUnitOfWork, clock: FixedClock
) -> None:
    product = seeded(uow, stock=4, name="Mug", price="3.00")

    updated = await mediator.send(
        m.UpdateProduct(
            str(product.product_id), ("price", "category"), name="ignored", price="3.50", category="mugs"
        )
    )

    assert (updated.name, updated.price, updated.category) == ("Mug", Decimal("3.50"), "mugs")
    assert updated.stock_quantity == 4
    assert updated.update_time == clock.now
    assert updated.etag != product.etag
    assert uow.committed_products[product.product_id] == updated


async def test_without_a_mask_the_fields_set_are_updated(
    mediator: Mediator, uow: FakeProductUnitOfWork
) -> None:
    product = replace(make_product(name="Mug"), description="Blue", low_stock_threshold=5)
    uow.seed(product)

    updated = await mediator.send(m.UpdateProduct(str(product.product_id), name="Cup", low_stock_threshold=0))

    # 0 is proto3's default, so "not set": only a mask naming the threshold sets it to 0.
    assert (updated.name, updated.description, updated.low_stock_threshold) == ("Cup", "Blue", 5)


async def test_the_wildcard_replaces_every_updatable_field(
    mediator: Mediator, uow: FakeProductUnitOfWork
) -> None:
    product = replace(make_product(name="Mug", category="mugs"), description="Blue", low_stock_threshold=5)
    uow.seed(product)

    updated = await mediator.send(m.UpdateProduct(str(product.product_id), ("*",), name="Cup", price="1"))

    assert (updated.name, updated.description, updated.price) == ("Cup", "", Decimal("1"))
    assert (updated.low_stock_threshold, updated.category) == (0, "")


@pytest.mark.parametrize(
    "command",
    [
        lambda p: m.UpdateProduct(p, name="New", etag="1"),
        lambda p: m.DeleteProduct(p, etag="1"),
    ],
    ids=["update", "delete"],
)
async def test_the_current_etag_is_accepted(
    mediator: Mediator,
    uow: FakeProductUnitOfWork,
    command: Callable[[str], m.UpdateProduct | m.DeleteProduct],
) -> None:
    product = seeded(uow)
    assert product.etag == "1"
    changed = await mediator.send(command(str(product.product_id)))
    assert changed.etag == "2"


@pytest.mark.parametrize(
    ("command", "deleted"),
    [
        (lambda p, etag: m.UpdateProduct(p, name="New", etag=etag), False),
        (lambda p, etag: m.DeleteProduct(p, etag=etag), False),
        (lambda p, etag: m.UndeleteProduct(p, etag=etag), True),
    ],
    ids=["update", "delete", "undelete"],
)
async def test_a_stale_etag_is_aborted_and_changes_nothing(
    mediator: Mediator, uow: FakeProductUnitOfWork, command: Callable[[str, str], Any], deleted: bool
) -> None:
    product = replace(make_product(deleted=T0 if deleted else None), version=2)
    uow.seed(product)

    with pytest.raises(StaleEtag) as raised:
        await mediator.send(command(str(product.product_id), "1"))

    assert isinstance(raised.value, Aborted)
    assert uow.committed_products == {product.product_id: product}


async def test_delete_keeps_the_product_readable_and_undelete_brings_it_back(
    mediator: Mediator, uow: FakeProductUnitOfWork, clock: FixedClock
) -> None:
    product = seeded(uow)

    deleted = await mediator.send(m.DeleteProduct(str(product.product_id)))
    assert deleted.delete_time == clock.now
    assert await mediator.send(m.GetProduct(str(product.product_id))) == deleted
    assert await mediator.send(m.BatchGetProducts((str(product.product_id),))) == [deleted]
    assert (await mediator.send(m.ListProducts())).products == []
    assert (await mediator.send(m.ListProducts(show_deleted=True))).products == [deleted]

    undeleted = await mediator.send(m.UndeleteProduct(str(product.product_id), etag=deleted.etag))
    assert undeleted.delete_time is None
    assert (await mediator.send(m.ListProducts())).products == [undeleted]


@pytest.mark.parametrize(
    "command",
    [lambda p: m.UpdateProduct(p, name="New"), lambda p: m.RestockProduct(p, 1), m.DeleteProduct],
    ids=["update", "restock", "delete-twice"],
)
async def test_a_deleted_product_refuses_what_only_a_live_one_takes(
    mediator: Mediator, uow: FakeProductUnitOfWork, command: Callable[[str], Any]
) -> None:
    product = seeded(uow, deleted=T0)
    before = dict(uow.committed_products)

    with pytest.raises(ProductIsDeleted) as raised:
        await mediator.send(command(str(product.product_id)))

    assert isinstance(raised.value, FailedPrecondition)
    assert uow.committed_products == before


async def test_undeleting_a_live_product_is_refused(mediator: Mediator, uow: FakeProductUnitOfWork) -> None:
    product = seeded(uow)
    with pytest.raises(ProductNotDeleted):
        await mediator.send(m.UndeleteProduct(str(product.product_id)))


@pytest.mark.parametrize("message", [m.DeleteProduct, m.UndeleteProduct])
async def test_an_unknown_product_is_not_found(mediator: Mediator, message: type[m.DeleteProduct]) -> None:
    missing = uuid4()
    for command in (message(str(missing)), m.UpdateProduct(str(missing), name="x")):
        with pytest.raises(ProductNotFound) as raised:
            await mediator.send(command)
        assert raised.value.product_ids == [missing]


async def test_every_stock_move_changes_the_etag(mediator: Mediator, uow: FakeProductUnitOfWork) -> None:
    product = seeded(uow, stock=5)
    order_id = str(uuid4())
    etags = [product.etag]

    def current() -> str:
        return uow.committed_products[product.product_id].etag

    await mediator.send(m.ReserveStock(order_id, (m.StockLine(str(product.product_id), 2),)))
    etags.append(current())
    await mediator.send(m.ReleaseStock(order_id))
    etags.append(current())
    await mediator.send(m.RestockProduct(str(product.product_id), 3))
    etags.append(current())

    assert len(set(etags)) == 4


async def test_a_reservation_treats_a_deleted_product_as_unknown_and_a_release_returns_stock_to_it(
    mediator: Mediator, uow: FakeProductUnitOfWork
) -> None:
    kept, dropped = seeded(uow, stock=5), seeded(uow, stock=5)
    reserved = str(uuid4())
    await mediator.send(m.ReserveStock(reserved, (m.StockLine(str(dropped.product_id), 2),)))
    await mediator.send(m.DeleteProduct(str(dropped.product_id)))

    lines = (m.StockLine(str(kept.product_id), 1), m.StockLine(str(dropped.product_id), 1))
    with pytest.raises(ProductNotFound) as raised:
        await mediator.send(m.ReserveStock(str(uuid4()), lines))
    assert raised.value.product_ids == [dropped.product_id]
    assert (uow.stock(kept.product_id), uow.stock(dropped.product_id)) == (5, 3)

    assert (await mediator.send(m.ReleaseStock(reserved))).released
    assert uow.stock(dropped.product_id) == 5


class RecordedOutcomes(NoOutcomes):
    def __init__(self) -> None:
        self.changes: list[tuple[str, str]] = []

    def change(self, operation: str, result: str) -> None:
        self.changes.append((operation, result))


async def test_each_change_is_counted_by_operation_and_result(
    uow: FakeProductUnitOfWork, clock: FixedClock
) -> None:
    outcomes = RecordedOutcomes()
    mediator = Mediator(
        {
            m.UpdateProduct: lambda: UpdateProductHandler(uow, clock, outcomes=outcomes),
            m.DeleteProduct: lambda: DeleteProductHandler(uow, clock, outcomes=outcomes),
            m.UndeleteProduct: lambda: UndeleteProductHandler(uow, clock, outcomes=outcomes),
        },
        default_pipeline(),
    )
    product = seeded(uow)
    pid = str(product.product_id)

    await mediator.send(m.UpdateProduct(pid, name="New"))
    for refused in (
        m.UpdateProduct(pid, name="Newer", etag="1"),  # stale
        m.UndeleteProduct(pid),  # not deleted
        m.DeleteProduct(str(uuid4())),  # unknown
    ):
        with pytest.raises((Aborted, FailedPrecondition, NotFound)):
            await mediator.send(refused)
    await mediator.send(m.DeleteProduct(pid))
    await mediator.send(m.UndeleteProduct(pid))

    assert outcomes.changes == [
        ("update", "changed"),
        ("update", "stale_etag"),
        ("undelete", "failed_precondition"),
        ("delete", "not_found"),
        ("delete", "changed"),
        ("undelete", "changed"),
    ]


async def test_a_change_refused_at_commit_is_not_counted(
    uow: FakeProductUnitOfWork, clock: FixedClock
) -> None:
    outcomes = RecordedOutcomes()
    mediator = Mediator(
        {m.UpdateProduct: lambda: UpdateProductHandler(uow, clock, outcomes=outcomes)}, default_pipeline()
    )
    product = seeded(uow)

    with call_context.deadline_bound(0.0), pytest.raises(DeadlineExceeded):
        await mediator.send(m.UpdateProduct(str(product.product_id), name="New"))

    assert outcomes.changes == []
    assert uow.committed_products[product.product_id] == product


def racing(change: Callable[[Product], Product]) -> FakeProductUnitOfWork:
    """A unit of work where ``change`` commits after a reservation began and before its decrement
    reaches the row: what the reservation records for a line must be what its decrement saw."""

    class ChangedJustBeforeTheTake(FakeProductRepository):
        def try_take(self, product_id: UUID, quantity: int, now: datetime) -> Product | None:
            if product_id in self.rows:
                self.rows[product_id] = change(self.rows[product_id])
            return super().try_take(product_id, quantity, now)

    return FakeProductUnitOfWork(ChangedJustBeforeTheTake)


async def test_a_reservation_records_the_name_and_price_its_decrement_saw(clock: FixedClock) -> None:
    uow = racing(lambda p: replace(p, name="Cup", price=Decimal("4.00"), version=p.version + 1))
    mediator = Mediator({m.ReserveStock: lambda: ReserveStockHandler(uow, clock)}, default_pipeline())
    product = seeded(uow, stock=5, name="Mug", price="3.00")

    reservation = await mediator.send(
        m.ReserveStock(str(uuid4()), (m.StockLine(str(product.product_id), 1),))
    )

    assert [(line.name, line.unit_price) for line in reservation.lines] == [("Cup", Decimal("4.00"))]


async def test_a_reservation_never_takes_from_a_product_deleted_before_its_decrement(
    clock: FixedClock,
) -> None:
    uow = racing(lambda p: replace(p, delete_time=T0, version=p.version + 1))
    mediator = Mediator({m.ReserveStock: lambda: ReserveStockHandler(uow, clock)}, default_pipeline())
    product = seeded(uow, stock=5)

    with pytest.raises(ProductNotFound):
        await mediator.send(m.ReserveStock(str(uuid4()), (m.StockLine(str(product.product_id), 1),)))

    assert uow.stock(product.product_id) == 5
