"""Order use cases: create (reserving stock), cancel (releasing it), get, list."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from uuid import UUID, uuid4

from loguru import logger

from common import call_context, pagination
from common.auth.principal import Principal
from common.backoff import Backoff, Pauses
from common.call_context import Origin
from common.clock import Clock
from common.errors import Aborted, AppError, DeadlineExceeded, Unavailable
from common.transactions import OneTransaction, OwnsTransactions, commit_in_time
from order.application.customer_access import NOBODY, check_places_for, listed_customer, visible_order
from order.application.messages import CancelOrder, CreateOrder, GetOrder, ListOrders
from order.application.outcomes import (
    CANCELLED,
    CONFIRMED,
    NO_OUTCOMES,
    PRODUCT_UNAVAILABLE,
    REJECTED,
    OrderOutcomes,
)
from order.application.product_client import (
    ProductClient,
    ProductServiceUnavailable,
    ReservationOutcome,
    Reserved,
)
from order.application.results import OrderPage
from order.application.stock_releases import StockReleases
from order.application.storage import OrderUnitOfWork, PendingRelease
from order.domain.model import Order, OrderLine, OrderStatus

UNAVAILABLE_REASON = "product service unavailable"
DEFAULT_CANCEL_REASON = "cancelled by request"

# A duplicate request_id whose first call is still in progress polls the stored order, from
# DUPLICATE_POLL_FIRST_S doubling up to DUPLICATE_POLL_MAX_S, until it is final or the duplicate's own
# deadline is DUPLICATE_ANSWER_MARGIN_S away (so that its ABORTED still reaches the caller). A caller
# without a deadline waits at most DUPLICATE_WAIT_WITHOUT_DEADLINE_S (a first call that crashed stays
# PENDING until the reconciler resolves it).
DUPLICATE_POLL_FIRST_S = 0.01
DUPLICATE_POLL_MAX_S = 0.2
DUPLICATE_POLL = Backoff(initial_s=DUPLICATE_POLL_FIRST_S, max_s=DUPLICATE_POLL_MAX_S)
# Reads of an order a cancel makes when other calls keep moving it: its statuses allow two moves.
_CANCEL_READS = 3
DUPLICATE_ANSWER_MARGIN_S = 0.05
DUPLICATE_WAIT_WITHOUT_DEADLINE_S = 30.0


class CreateOrderHandler(OwnsTransactions):
    """PENDING is committed before stock is reserved, so no reservation exists for an order nobody knows.
    The call to the Product service sits between two transactions, so this handler owns its commits.

    PENDING is never an answer (AIP-155): a repeated request_id returns the first call's final order,
    waiting for it while that call is still in progress, or ABORTED when the wait outlasts its deadline.
    """

    def __init__(
        self,
        uow: OrderUnitOfWork,
        products: ProductClient,
        releases: StockReleases,
        clock: Clock,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        *,
        outcomes: OrderOutcomes = NO_OUTCOMES,
    ) -> None:
        self.uow = uow
        self.products = products
        self.releases = releases
        self.clock = clock
        self.sleep = sleep
        self.outcomes = outcomes

    async def handle(self, command: CreateOrder) -> Order:
        check_places_for(command.caller, command.customer_id)
        request_id = UUID(command.request_id) if command.request_id else None
        lines = tuple(OrderLine(UUID(i.product_id), i.quantity) for i in command.items)
        origin = command.origin
        order = Order.place(
            uuid4(),
            UUID(command.customer_id),
            lines,
            self.clock(),
            request_id,
            trace_context=origin.trace_context,
        )
        if not await self.uow.run(self._place, order):
            # The customer's request_id is taken (a retry, or a concurrent twin that won): that order,
            # once final. Request ids are each customer's own, so it is an order the caller may see.
            assert order.request_id is not None
            return await self._outcome_of(order.customer_id, order.request_id, call_context.time_remaining())
        try:
            outcome = await self.products.reserve(order.order_id, lines)
        except ProductServiceUnavailable as error:
            raise await self._give_up(order, error, origin) from None
        return await self._record(order, outcome, origin)

    def _place(self, order: Order) -> bool:
        """Commit ``order`` as PENDING; False if its request_id is taken. Inserting first costs a
        replay one failed insert and saves every new order a lookup."""
        if not self.uow.orders.add(order):
            return False
        commit_in_time(self.uow)
        return True

    async def _record(self, order: Order, outcome: ReservationOutcome, origin: Origin) -> Order:
        """Commit the reservation's outcome: CONFIRMED or REJECTED, unless someone moved the order."""
        if isinstance(outcome, Reserved):
            resolved = order.confirm(outcome.items, self.clock())
        else:
            resolved = order.reject(outcome.reason, outcome.failed_product_ids, self.clock())
        saved, resolved = await self.uow.run(self._save_outcome, resolved, outcome, origin)
        if saved:
            logger.bind(order_id=str(order.order_id)).info(
                "order {} {}", order.order_id, resolved.status.value
            )
            if isinstance(outcome, Reserved):
                self.outcomes.order_resolved(CONFIRMED)
            else:
                self.outcomes.order_resolved(REJECTED, outcome.kind)
        return resolved

    def _save_outcome(
        self, resolved: Order, outcome: ReservationOutcome, origin: Origin
    ) -> tuple[bool, Order]:
        saved = self.uow.orders.save(resolved)
        if not saved:
            resolved = self._lost_race(resolved.order_id, outcome, origin)
        commit_in_time(self.uow)
        return saved, resolved

    async def _outcome_of(self, customer_id: UUID, request_id: UUID, time_remaining_s: float | None) -> Order:
        """The first call's order once it is final, waited for within the caller's ``time_remaining_s``
        (None: no deadline); each read is its own transaction, so it sees the first call's commit."""
        left = time_remaining_s
        give_up_at = time.monotonic() + (
            DUPLICATE_WAIT_WITHOUT_DEADLINE_S if left is None else left - DUPLICATE_ANSWER_MARGIN_S
        )
        pauses = Pauses(DUPLICATE_POLL, give_up_at, self.sleep)
        while True:
            earlier = await self.uow.run(self.uow.orders.get_by_request_id, customer_id, request_id)
            assert earlier is not None  # orders are never deleted
            if earlier.status is not OrderStatus.PENDING:
                return earlier
            if not await pauses.wait():
                raise Aborted(f"request {request_id} is still in progress, retry")

    async def _give_up(self, order: Order, error: ProductServiceUnavailable, origin: Origin) -> AppError:
        """The reservation may have happened: reject the order and queue a compensating release in one
        transaction, then tell the caller the truth (UNAVAILABLE / DEADLINE_EXCEEDED)."""
        rejected = order.reject(UNAVAILABLE_REASON, (), self.clock())
        if await self.uow.run(self._reject_with_release, rejected, origin):
            self.outcomes.order_resolved(REJECTED, PRODUCT_UNAVAILABLE)
        logger.bind(order_id=str(order.order_id)).warning(
            "order {} rejected: {} ({})", order.order_id, UNAVAILABLE_REASON, error
        )
        message = (
            f"{UNAVAILABLE_REASON}: order {order.order_id} was rejected "
            "and any stock it may hold will be released"
        )
        return DeadlineExceeded(message) if error.deadline_exceeded else Unavailable(message)

    def _reject_with_release(self, rejected: Order, origin: Origin) -> bool:
        """False when someone moved the order meanwhile (a cancel): their final status stands."""
        if not self.uow.orders.save(rejected):
            return False
        self.releases.queue(self.uow, rejected.order_id, origin, deliver_now=False)
        # Committed even past the caller's deadline (the usual reason to be here): it records a
        # release the Product service may be owed, which must not be lost with the call.
        self.uow.commit()
        return True

    def _lost_race(self, order_id: UUID, outcome: ReservationOutcome, origin: Origin) -> Order:
        """Someone moved the order while we reserved (a cancel): their state stands; if we took stock,
        a release is queued (a cancel queued one too; releases are idempotent)."""
        current = self.uow.orders.get(order_id)
        assert current is not None
        if isinstance(outcome, Reserved) and not current.holds_stock:
            self.releases.queue(self.uow, order_id, origin, deliver_now=False)
        return current


class CancelOrderHandler(OwnsTransactions):
    """The cancellation commits with its release in the outbox; the release is then tried once at
    once within a small budget, and an outage or a hang only delays it (the worker retries it), never
    fails or holds up the cancellation. The release is a call to the Product service after the
    commit, so this handler owns its commit."""

    def __init__(
        self,
        uow: OrderUnitOfWork,
        releases: StockReleases,
        clock: Clock,
        *,
        outcomes: OrderOutcomes = NO_OUTCOMES,
    ) -> None:
        self.uow = uow
        self.releases = releases
        self.clock = clock
        self.outcomes = outcomes

    async def handle(self, command: CancelOrder) -> Order:
        order_id = UUID(command.order_id)
        reason = command.reason.strip() or DEFAULT_CANCEL_REASON
        cancelled, entry = await self.uow.run(self._cancel, order_id, reason, command.caller, command.origin)
        if entry is None:
            return cancelled  # already cancelled: nothing to do, nothing to release again
        logger.bind(order_id=str(order_id)).info("order {} cancelled", order_id)
        self.outcomes.order_resolved(CANCELLED)
        await self.releases.deliver_now(entry, call_context.time_remaining())
        return cancelled

    def _cancel(
        self, order_id: UUID, reason: str, caller: Principal | None, origin: Origin
    ) -> tuple[Order, PendingRelease | None]:
        """The cancellation and its release in the outbox, as one transaction. A save refused because
        another call moved the order meanwhile (a concurrent cancel, its creation resolving it) reads
        the order again, as that call left it (a read sees the latest commit), and goes on from there:
        already cancelled is the answer, confirmed is cancelled in turn. Each move is one step along
        PENDING -> CONFIRMED -> CANCELLED, so a few reads settle it."""
        for _ in range(_CANCEL_READS):
            order = visible_order(caller, order_id, self.uow.orders.get(order_id))
            cancelled = order.cancel(reason, self.clock())
            if cancelled is order:
                return order, None
            if self.uow.orders.save(cancelled):
                entry = self.releases.queue(self.uow, order_id, origin, deliver_now=True)
                commit_in_time(self.uow)
                return cancelled, entry
        raise Aborted(f"order {order_id} changed while it was being cancelled; try again")


class GetOrderHandler(OneTransaction[OrderUnitOfWork]):
    def handle(self, query: GetOrder) -> Order:
        order_id = UUID(query.order_id)
        return visible_order(query.caller, order_id, self.uow.orders.get(order_id))


class ListOrdersHandler(OneTransaction[OrderUnitOfWork]):
    """Newest first, keyset-paged on (create_time, order_id)."""

    def handle(self, query: ListOrders) -> OrderPage:
        size = pagination.effective_page_size(query.page_size)
        before = pagination.decode_keyset(query.page_token)
        customer = listed_customer(query.caller, query.customer_id)
        if customer is NOBODY:
            return OrderPage([], "")
        return OrderPage.of(self.uow.orders.list_newest_first(customer, before, size + 1), size)
