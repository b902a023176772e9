"""Stock reservation: all-or-nothing across lines, idempotent by order id, never below zero."""

from __future__ import annotations

from collections.abc import Sequence
from typing import NoReturn
from uuid import UUID

from common.clock import Clock
from common.transactions import OneTransaction
from product.application.messages import GetReservation, ReleaseStock, ReserveStock
from product.application.outcomes import (
    INSUFFICIENT_STOCK,
    NO_OUTCOMES,
    REPLAYED,
    RESERVED,
    UNKNOWN_PRODUCT,
    StockOutcomes,
)
from product.application.results import ReleaseResult
from product.application.storage import ProductUnitOfWork
from product.domain.errors import (
    InsufficientStock,
    ProductNotFound,
    ReservationConflict,
    ReservationNotFound,
    ReservationReleased,
)
from product.domain.model import (
    Reservation,
    ReservationStatus,
    Shortage,
    StockRequest,
    reserved_lines,
)


class ReserveStockHandler(OneTransaction[ProductUnitOfWork]):
    """Runs in one transaction (the unit-of-work behaviour): any failure rolls every line back."""

    retry_on_conflict = True

    def __init__(
        self, uow: ProductUnitOfWork, clock: Clock, *, outcomes: StockOutcomes = NO_OUTCOMES
    ) -> None:
        super().__init__(uow)
        self.clock = clock
        self.outcomes = outcomes

    def handle(self, command: ReserveStock) -> Reservation:
        order_id = UUID(command.order_id)
        requested = command.requests()
        now = self.clock()
        # The claim first (it saves every new reservation a lookup), then conditional decrements in one
        # fixed order, so that concurrent multi-line reservations cannot deadlock. Each returns the
        # product as its decrement left it, so the name and price reserved are those of the same moment
        # as the stock taken: a change committed before it is seen, one after is not.
        taken = self.uow.reservations.open_and_take(order_id, requested, now)
        if taken is None:
            # The order id is taken (the key is unique): this is a retry, or the twin of a concurrent
            # call that got there first. On PostgreSQL the insert waited for that call to commit, so
            # its reservation is visible now.
            winner = self.uow.reservations.get(order_id)
            assert winner is not None, "the claim lost to a reservation that is not there"
            replayed = _replay(winner, requested)
            self.uow.after_commit(lambda: self.outcomes.reservation(REPLAYED))
            return replayed

        refused = [r for r in sorted(requested, key=lambda r: r.product_id) if r.product_id not in taken]
        if refused:
            self._refuse(requested, refused)
        for r in requested:
            taken[r.product_id].took(r.quantity)  # StockLow, if this took it to its threshold

        lines = reserved_lines(requested, taken)
        units = sum(r.quantity for r in requested)
        # Counted once committed: a rerun after a conflict, or a commit refused past the deadline,
        # must not count units that were never taken. Refusals roll back and end the call: counted now.
        self.uow.after_commit(lambda: self.outcomes.reservation(RESERVED, units))
        return Reservation(order_id, ReservationStatus.ACTIVE, lines, now)

    def _refuse(self, requested: Sequence[StockRequest], refused: Sequence[StockRequest]) -> NoReturn:
        """Why lines could not be taken: unknown or deleted products first (NOT_FOUND, in request order),
        else the shortages. Raising rolls back every line taken."""
        current = self.uow.products.get_many([r.product_id for r in refused])
        refused_ids = {r.product_id for r in refused}
        unknown = [
            r.product_id
            for r in requested
            if r.product_id in refused_ids and (r.product_id not in current or current[r.product_id].deleted)
        ]
        if unknown:
            self.outcomes.reservation(UNKNOWN_PRODUCT)
            raise ProductNotFound(unknown)
        self.outcomes.reservation(INSUFFICIENT_STOCK)
        raise InsufficientStock(
            [Shortage(r.product_id, r.quantity, current[r.product_id].stock_quantity) for r in refused]
        )


def _replay(existing: Reservation, requested: Sequence[StockRequest]) -> Reservation:
    if not existing.requested_the_same(requested):
        raise ReservationConflict(existing.order_id)
    if existing.status is ReservationStatus.RELEASED:
        raise ReservationReleased(existing.order_id)
    return existing


class ReleaseStockHandler(OneTransaction[ProductUnitOfWork]):
    """Puts back exactly what the order reserved, once. Releasing twice, or nothing, is fine."""

    retry_on_conflict = True

    def __init__(
        self, uow: ProductUnitOfWork, clock: Clock, *, outcomes: StockOutcomes = NO_OUTCOMES
    ) -> None:
        super().__init__(uow)
        self.clock = clock
        self.outcomes = outcomes

    def handle(self, command: ReleaseStock) -> ReleaseResult:
        order_id = UUID(command.order_id)
        now = self.clock()
        reservation = self.uow.reservations.get(order_id)
        if reservation is None and self.uow.reservations.add_released_marker(order_id, now):
            # Released before it was reserved (a compensation that overtook a slow reserve): the marker
            # makes that late reserve fail instead of taking stock nobody will ever give back.
            return ReleaseResult(order_id, released=False)
        if not self.uow.reservations.try_release(order_id, now):
            return ReleaseResult(order_id, released=False)
        if reservation is None:
            # A concurrent reserve committed between our read and our marker: read what it holds. The
            # lines read earlier are otherwise final, written in the same transaction as the reservation.
            reservation = self.uow.reservations.get(order_id)
            assert reservation is not None
        for line in sorted(reservation.lines, key=lambda line: line.product_id):
            self.uow.products.put_back(line.product_id, line.quantity, now)
        units = sum(line.quantity for line in reservation.lines)
        self.uow.after_commit(lambda: self.outcomes.released(units))
        return ReleaseResult(order_id, released=True)


class GetReservationHandler(OneTransaction[ProductUnitOfWork]):
    def handle(self, query: GetReservation) -> Reservation:
        order_id = UUID(query.order_id)
        reservation = self.uow.reservations.get(order_id)
        if reservation is None:
            raise ReservationNotFound(order_id)
        return reservation
