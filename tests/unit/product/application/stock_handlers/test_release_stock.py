"""ReleaseStock: puts back exactly what was reserved, once; releasing nothing is fine and leaves a marker."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID, uuid4

import pytest
from pytest_mock import MockerFixture

from common.errors import ResourceType
from common.mediator import Mediator
from product.application.messages import GetReservation, ReleaseStock, ReserveStock, StockLine
from product.domain.errors import ReservationNotFound
from product.domain.model import Reservation, ReservationStatus, ReservedLine
from tests.support.product_fakes import FakeProductUnitOfWork, FakeReservationRepository, make_product


async def test_release_puts_every_line_back_and_commits(
    mediator: Mediator, uow: FakeProductUnitOfWork
) -> None:
    a, b = make_product(stock=10), make_product(stock=3)
    uow.seed(a, b)
    order_id = uuid4()
    await mediator.send(
        ReserveStock(str(order_id), (StockLine(str(a.product_id), 4), StockLine(str(b.product_id), 3)))
    )

    result = await mediator.send(ReleaseStock(str(order_id)))

    assert (result.order_id, result.released) == (order_id, True)
    assert (uow.stock(a.product_id), uow.stock(b.product_id)) == (10, 3)
    assert uow.committed_reservations[order_id].status is ReservationStatus.RELEASED
    assert uow.commits == 2


async def test_releasing_twice_puts_stock_back_once(mediator: Mediator, uow: FakeProductUnitOfWork) -> None:
    a = make_product(stock=10)
    uow.seed(a)
    order_id = uuid4()
    await mediator.send(ReserveStock(str(order_id), (StockLine(str(a.product_id), 6),)))

    first = await mediator.send(ReleaseStock(str(order_id)))
    second = await mediator.send(ReleaseStock(str(order_id)))

    assert (first.released, second.released) == (True, False)
    assert uow.stock(a.product_id) == 10


async def test_releasing_an_unknown_order_is_ok_and_leaves_a_released_marker(
    mediator: Mediator, uow: FakeProductUnitOfWork
) -> None:
    order_id = uuid4()

    result = await mediator.send(ReleaseStock(str(order_id)))

    assert (result.order_id, result.released) == (order_id, False)
    marker = uow.committed_reservations[order_id]
    assert (marker.status, marker.lines) == (ReservationStatus.RELEASED, ())
    assert uow.commits == 1


async def test_releasing_an_unknown_order_twice_is_still_ok(
    mediator: Mediator, uow: FakeProductUnitOfWork
) -> None:
    order_id = uuid4()

    results = [(await mediator.send(ReleaseStock(str(order_id)))).released for _ in range(2)]

    assert results == [False, False]
    assert list(uow.committed_reservations) == [order_id]


async def test_a_reserve_that_lands_between_the_read_and_the_marker_is_released_in_full(
    mediator: Mediator, uow: FakeProductUnitOfWork, mocker: MockerFixture
) -> None:
    a = make_product(stock=10)
    uow.seed(a)
    order_id = uuid4()
    claim_marker = FakeReservationRepository.add_released_marker

    def reserve_commits_first(reservations: FakeReservationRepository, oid: UUID, now: datetime) -> bool:
        # Another replica's ReserveStock commits after this release read "no reservation".
        assert uow.products.try_take(a.product_id, 4, now)
        line = ReservedLine(a.product_id, a.name, a.price, 4)
        reservations.rows[oid] = Reservation(oid, ReservationStatus.ACTIVE, (line,), now)
        return claim_marker(reservations, oid, now)

    mocker.patch.object(
        FakeReservationRepository, "add_released_marker", autospec=True, side_effect=reserve_commits_first
    )

    result = await mediator.send(ReleaseStock(str(order_id)))

    assert result.released is True
    assert uow.stock(a.product_id) == 10
    assert uow.committed_reservations[order_id].status is ReservationStatus.RELEASED


async def test_release_accepts_an_upper_case_order_id_and_answers_in_lower_case(
    mediator: Mediator, uow: FakeProductUnitOfWork
) -> None:
    a = make_product(stock=2)
    uow.seed(a)
    order_id = uuid4()
    await mediator.send(ReserveStock(str(order_id), (StockLine(str(a.product_id), 2),)))

    result = await mediator.send(ReleaseStock(str(order_id).upper()))

    assert (str(result.order_id), result.released) == (str(order_id), True)
    assert uow.stock(a.product_id) == 2


async def test_get_reservation_shows_an_active_then_released_reservation(
    mediator: Mediator, uow: FakeProductUnitOfWork
) -> None:
    a = make_product(stock=5)
    uow.seed(a)
    order_id = uuid4()
    reserved = await mediator.send(ReserveStock(str(order_id), (StockLine(str(a.product_id), 2),)))

    active = await mediator.send(GetReservation(str(order_id)))
    await mediator.send(ReleaseStock(str(order_id)))
    released = await mediator.send(GetReservation(str(order_id)))

    assert active == reserved
    assert (released.status, released.lines) == (ReservationStatus.RELEASED, reserved.lines)


async def test_get_reservation_of_an_order_never_seen_is_not_found(mediator: Mediator) -> None:
    order_id = uuid4()

    with pytest.raises(ReservationNotFound) as raised:
        await mediator.send(GetReservation(str(order_id)))

    assert [(r.resource_type, r.resource_name) for r in raised.value.resources] == [
        (ResourceType.RESERVATION, str(order_id))
    ]
