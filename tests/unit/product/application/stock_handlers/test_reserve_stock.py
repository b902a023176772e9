"""ReserveStock through the real mediator and pipeline, on the in-memory unit of work."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from uuid import UUID, uuid4

import pytest
from pytest_mock import MockerFixture

from common import call_context
from common.behaviours import default_pipeline
from common.errors import Aborted, DeadlineExceeded, ErrorCode, PreconditionType
from common.mediator import Mediator
from product.application.messages import GetReservation, ReleaseStock, ReserveStock, StockLine
from product.application.outcomes import NoOutcomes
from product.application.stock_handlers import ReleaseStockHandler, ReserveStockHandler
from product.domain.errors import InsufficientStock, ProductNotFound, ReservationConflict, ReservationReleased
from product.domain.model import Product, ReservationStatus
from tests.support.clock import FixedClock
from tests.support.product_fakes import (
    FakeProductRepository,
    FakeProductUnitOfWork,
    FakeReservationRepository,
    make_product,
)


def reserve(order_id: UUID, *lines: tuple[Product, int]) -> ReserveStock:
    return ReserveStock(str(order_id), tuple(StockLine(str(p.product_id), q) for p, q in lines))


async def test_reserve_takes_stock_commits_and_snapshots_name_and_price(
    mediator: Mediator, uow: FakeProductUnitOfWork
) -> None:
    widget = make_product(stock=10, price="19.99", name="Widget")
    gadget = make_product(stock=5, price="2.50", name="Gadget")
    uow.seed(widget, gadget)
    order_id = uuid4()

    reservation = await mediator.send(reserve(order_id, (widget, 3), (gadget, 5)))

    assert reservation.order_id == order_id
    assert reservation.status is ReservationStatus.ACTIVE
    assert [(line.product_id, line.name, line.unit_price, line.quantity) for line in reservation.lines] == [
        (widget.product_id, "Widget", Decimal("19.99"), 3),
        (gadget.product_id, "Gadget", Decimal("2.50"), 5),
    ]
    assert (uow.stock(widget.product_id), uow.stock(gadget.product_id)) == (7, 0)
    assert uow.commits == 1
    assert uow.committed_reservations[order_id] == reservation


async def test_a_short_line_takes_nothing_on_any_line_and_commits_nothing(
    mediator: Mediator, uow: FakeProductUnitOfWork
) -> None:
    # The .NET original decremented line by line and kept what it had taken when line N was short.
    first, second, third = make_product(stock=10), make_product(stock=10), make_product(stock=1)
    uow.seed(first, second, third)
    order_id = uuid4()

    with pytest.raises(InsufficientStock) as raised:
        await mediator.send(reserve(order_id, (first, 4), (second, 4), (third, 2)))

    assert [(s.product_id, s.requested, s.available) for s in raised.value.shortages] == [
        (third.product_id, 2, 1)
    ]
    assert [uow.stock(p.product_id) for p in (first, second, third)] == [10, 10, 1]
    assert order_id not in uow.committed_reservations
    assert uow.commits == 0
    assert uow.discarded == 1  # lines were taken inside the transaction, then thrown away


async def test_every_short_line_is_reported_not_just_the_first(
    mediator: Mediator, uow: FakeProductUnitOfWork
) -> None:
    a, b, c = make_product(stock=1), make_product(stock=0), make_product(stock=5)
    uow.seed(a, b, c)

    with pytest.raises(InsufficientStock) as raised:
        await mediator.send(reserve(uuid4(), (a, 2), (b, 1), (c, 5)))

    reported = {(v.type, v.subject, v.description) for v in raised.value.violations}
    assert reported == {
        (PreconditionType.STOCK, str(a.product_id), "requested 2, available 1"),
        (PreconditionType.STOCK, str(b.product_id), "requested 1, available 0"),
    }
    assert raised.value.code is ErrorCode.FAILED_PRECONDITION
    assert [uow.stock(p.product_id) for p in (a, b, c)] == [1, 0, 5]


async def test_unknown_products_are_named_and_nothing_is_reserved(
    mediator: Mediator, uow: FakeProductUnitOfWork
) -> None:
    known = make_product(stock=10)
    uow.seed(known)
    ghost_1, ghost_2 = uuid4(), uuid4()
    order_id = uuid4()
    command = ReserveStock(
        str(order_id),
        (StockLine(str(ghost_1), 1), StockLine(str(known.product_id), 1), StockLine(str(ghost_2), 1)),
    )

    with pytest.raises(ProductNotFound) as raised:
        await mediator.send(command)

    assert raised.value.product_ids == [ghost_1, ghost_2]
    assert uow.stock(known.product_id) == 10
    assert uow.committed_reservations == {}


async def test_a_repeat_with_the_same_items_returns_the_original_and_takes_nothing(
    mediator: Mediator, uow: FakeProductUnitOfWork
) -> None:
    a, b = make_product(stock=10), make_product(stock=10)
    uow.seed(a, b)
    order_id = uuid4()
    first = await mediator.send(reserve(order_id, (a, 2), (b, 3)))

    again = await mediator.send(reserve(order_id, (b, 3), (a, 2)))  # same items, other order

    assert again == first
    assert (uow.stock(a.product_id), uow.stock(b.product_id)) == (8, 7)


async def test_a_repeat_with_different_items_is_a_conflict(
    mediator: Mediator, uow: FakeProductUnitOfWork
) -> None:
    a = make_product(stock=10)
    uow.seed(a)
    order_id = uuid4()
    await mediator.send(reserve(order_id, (a, 2)))

    with pytest.raises(ReservationConflict) as raised:
        await mediator.send(reserve(order_id, (a, 3)))

    assert raised.value.code is ErrorCode.ALREADY_EXISTS
    assert str(order_id) in raised.value.message
    assert uow.stock(a.product_id) == 8


async def test_reserve_after_release_of_an_unknown_order_is_refused(
    mediator: Mediator, uow: FakeProductUnitOfWork
) -> None:
    a = make_product(stock=10)
    uow.seed(a)
    order_id = uuid4()
    assert (await mediator.send(ReleaseStock(str(order_id)))).released is False

    with pytest.raises(ReservationConflict):
        await mediator.send(reserve(order_id, (a, 1)))

    assert uow.stock(a.product_id) == 10


async def test_the_same_items_after_a_release_are_refused_as_released(
    mediator: Mediator, uow: FakeProductUnitOfWork
) -> None:
    a = make_product(stock=10)
    uow.seed(a)
    order_id = uuid4()
    await mediator.send(reserve(order_id, (a, 4)))
    await mediator.send(ReleaseStock(str(order_id)))

    with pytest.raises(ReservationReleased):
        await mediator.send(reserve(order_id, (a, 4)))

    assert uow.stock(a.product_id) == 10


async def test_a_taken_order_id_is_answered_from_the_stored_reservation(
    mediator: Mediator, uow: FakeProductUnitOfWork, mocker: MockerFixture
) -> None:
    # The claim comes first: a new reservation never pays for a lookup, and a repeat (a retry, or
    # the loser of a concurrent race for the same order id) reads the winner once the claim fails.
    a = make_product(stock=10)
    uow.seed(a)
    order_id = uuid4()
    winner = await mediator.send(reserve(order_id, (a, 2)))
    claim = mocker.spy(FakeReservationRepository, "try_open")
    lookup = mocker.spy(FakeReservationRepository, "get")

    assert await mediator.send(reserve(order_id, (a, 2))) == winner
    assert claim.spy_return is False
    assert [c.args[1] for c in lookup.call_args_list] == [order_id]
    assert uow.stock(a.product_id) == 8


async def test_a_new_reservation_claims_its_order_id_without_a_lookup(
    mediator: Mediator, uow: FakeProductUnitOfWork, mocker: MockerFixture
) -> None:
    a = make_product(stock=10)
    uow.seed(a)
    lookup = mocker.spy(FakeReservationRepository, "get")

    await mediator.send(reserve(uuid4(), (a, 2)))

    assert lookup.call_count == 0


async def test_lines_are_taken_in_product_id_order(
    mediator: Mediator, uow: FakeProductUnitOfWork, mocker: MockerFixture
) -> None:
    # One global order of row locks is what keeps concurrent multi-line reservations from deadlocking.
    products = [make_product(stock=5) for _ in range(4)]
    uow.seed(*products)
    take = mocker.spy(FakeProductRepository, "try_take")

    await mediator.send(reserve(uuid4(), *[(p, 1) for p in reversed(products)]))

    taken = [call.args[1] for call in take.call_args_list]
    assert taken == sorted(p.product_id for p in products)


async def test_a_reservation_never_expires(
    mediator: Mediator, uow: FakeProductUnitOfWork, clock: FixedClock
) -> None:
    # The .NET original let reservations lapse after minutes, confirmed orders included, and sold
    # their stock again. Here a reservation holds until it is released, however long that takes.
    widget = make_product(stock=10)
    uow.seed(widget)
    held = await mediator.send(reserve(uuid4(), (widget, 4)))

    clock.now += timedelta(days=365)
    await mediator.send(reserve(uuid4(), (widget, 6)))
    with pytest.raises(InsufficientStock):
        await mediator.send(reserve(uuid4(), (widget, 1)))

    assert await mediator.send(GetReservation(str(held.order_id))) == held
    assert uow.stock(widget.product_id) == 0


class RecordedOutcomes(NoOutcomes):
    def __init__(self) -> None:
        self.reservations: list[tuple[str, int]] = []
        self.units_released: list[int] = []

    def reservation(self, result: str, units: int = 0) -> None:
        self.reservations.append((result, units))

    def released(self, units: int) -> None:
        self.units_released.append(units)


async def test_each_reservation_is_reported_by_result_with_the_units_it_took(
    uow: FakeProductUnitOfWork, clock: FixedClock
) -> None:
    # What the eshop.stock.reservations and eshop.stock.units_reserved counters are made of.
    outcomes = RecordedOutcomes()
    mediator = Mediator(
        {
            ReserveStock: lambda: ReserveStockHandler(uow, clock, outcomes=outcomes),
            ReleaseStock: lambda: ReleaseStockHandler(uow, clock, outcomes=outcomes),
        },
        default_pipeline(),
    )
    a, b = make_product(stock=10), make_product(stock=1)
    uow.seed(a, b)
    order_id = uuid4()

    await mediator.send(reserve(order_id, (a, 2), (b, 1)))
    await mediator.send(reserve(order_id, (a, 2), (b, 1)))
    with pytest.raises(InsufficientStock):
        await mediator.send(reserve(uuid4(), (b, 1)))
    with pytest.raises(ProductNotFound):
        await mediator.send(reserve(uuid4(), (make_product(), 1)))
    await mediator.send(ReleaseStock(str(order_id)))

    assert outcomes.reservations == [
        ("reserved", 3),
        ("replayed", 0),
        ("insufficient_stock", 0),
        ("unknown_product", 0),
    ]
    assert outcomes.units_released == [3]


def _counting_mediator(uow: FakeProductUnitOfWork, clock: FixedClock, outcomes: RecordedOutcomes) -> Mediator:
    return Mediator(
        {
            ReserveStock: lambda: ReserveStockHandler(uow, clock, outcomes=outcomes),
            ReleaseStock: lambda: ReleaseStockHandler(uow, clock, outcomes=outcomes),
        },
        default_pipeline(),
    )


async def test_a_reservation_or_release_refused_at_commit_is_not_counted(
    uow: FakeProductUnitOfWork, clock: FixedClock
) -> None:
    # The caller's deadline passed before the commit: everything rolls back, so nothing was taken or
    # put back and nothing may be counted (it was counted inside the transaction before).
    outcomes = RecordedOutcomes()
    mediator = _counting_mediator(uow, clock, outcomes)
    widget = make_product(stock=10)
    uow.seed(widget)
    order_id = uuid4()

    with call_context.deadline_bound(0.0), pytest.raises(DeadlineExceeded):
        await mediator.send(reserve(order_id, (widget, 2)))
    assert (uow.stock(widget.product_id), outcomes.reservations) == (10, [])

    await mediator.send(reserve(order_id, (widget, 2)))  # the caller's retry, in time
    with call_context.deadline_bound(0.0), pytest.raises(DeadlineExceeded):
        await mediator.send(ReleaseStock(str(order_id)))

    assert uow.stock(widget.product_id) == 8
    assert outcomes.reservations == [("reserved", 2)]
    assert outcomes.units_released == []


class ConflictingOnce(FakeProductUnitOfWork):
    """Its first commit loses a race (PostgreSQL's serialization failure or deadlock): ABORTED."""

    def __init__(self) -> None:
        super().__init__()
        self.conflicts_left = 1

    def commit(self) -> None:
        if self.conflicts_left:
            self.conflicts_left -= 1
            raise Aborted("the change conflicted with a concurrent one; try again")
        super().commit()


async def test_a_reservation_rerun_after_a_conflict_is_counted_once(clock: FixedClock) -> None:
    uow = ConflictingOnce()
    outcomes = RecordedOutcomes()
    mediator = _counting_mediator(uow, clock, outcomes)
    widget = make_product(stock=10)
    uow.seed(widget)

    await mediator.send(reserve(uuid4(), (widget, 3)))

    assert uow.conflicts_left == 0  # the first run did conflict, and the pipeline ran it again
    assert uow.stock(widget.product_id) == 7
    assert outcomes.reservations == [("reserved", 3)]
