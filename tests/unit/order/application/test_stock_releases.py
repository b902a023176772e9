"""The release outbox: delivering what is due, retrying with capped, jittered backoff."""

from __future__ import annotations

from datetime import timedelta
from unittest.mock import MagicMock
from uuid import UUID, uuid4

import pytest
from pytest_mock import MockerFixture

from common import call_context
from common.call_context import Origin
from common.outbox.backoff import lease_outlasting
from common.outbox.delivery import OutboxStats
from order.application.outcomes import NoOutcomes
from order.application.product_client import ProductServiceUnavailable
from order.application.stock_releases import StockReleases, immediate_attempt_budget
from order.application.storage import PendingRelease
from tests.support.clock import FixedClock
from tests.support.order_fakes import BACKOFF, LEASE_S, FakeOrderStore


class RecordedOutcomes(NoOutcomes):
    def __init__(self) -> None:
        self.deliveries: list[str] = []

    def release_attempted(self, result: str) -> None:
        self.deliveries.append(result)


def queue(
    store: FakeOrderStore, releases: StockReleases, *, deliver_now: bool = False, origin: Origin | None = None
) -> PendingRelease:
    with store.unit_of_work() as uow:
        entry = releases.queue(uow, uuid4(), origin or Origin.new(), deliver_now=deliver_now)
        uow.commit()
    return entry


async def test_deliver_due_delivers_due_entries_and_removes_them(
    store: FakeOrderStore, releases: StockReleases, products: MagicMock
) -> None:
    first, second = queue(store, releases), queue(store, releases)
    leased = queue(store, releases, deliver_now=True)  # its caller is trying it: not due for a lease

    assert await releases.deliver_due() == 2

    assert [c.args[0] for c in products.release.call_args_list] == [first.order_id, second.order_id]
    assert [e.entry_id for e in store.outbox] == [leased.entry_id]


async def test_deliver_due_counts_an_entry_with_nothing_to_release_as_delivered(
    store: FakeOrderStore, releases: StockReleases, products: MagicMock
) -> None:
    queue(store, releases)
    products.release.return_value = False  # the Product service held nothing: still acknowledged

    assert await releases.deliver_due() == 1
    assert store.outbox == []


async def test_a_failed_delivery_stays_queued_with_backoff(
    store: FakeOrderStore, releases: StockReleases, products: MagicMock, clock: FixedClock
) -> None:
    entry = queue(store, releases)
    products.release.side_effect = ProductServiceUnavailable("down")
    clock.step = timedelta(0)

    assert await releases.deliver_due() == 0

    [kept] = store.outbox
    assert kept.attempts == 1
    assert "down" in store.committed.last_errors[kept.entry_id]  # why it failed, for whoever looks
    assert kept.next_attempt_at > entry.next_attempt_at
    assert await releases.deliver_due() == 0  # not due again before its backoff
    assert products.release.call_count == 1

    clock.now = kept.next_attempt_at
    assert await releases.deliver_due() == 0
    assert store.outbox[0].attempts == 2


async def test_a_retried_entry_is_delivered_once_the_service_is_back(
    store: FakeOrderStore, releases: StockReleases, products: MagicMock, clock: FixedClock
) -> None:
    queue(store, releases)
    products.release.side_effect = [ProductServiceUnavailable("down"), True]
    await releases.deliver_due()
    clock.now = store.outbox[0].next_attempt_at

    assert await releases.deliver_due() == 1
    assert store.outbox == []


async def test_releases_waiting_out_their_backoff_are_tried_at_once_when_asked(
    store: FakeOrderStore, releases: StockReleases, products: MagicMock, clock: FixedClock
) -> None:
    failed, also_failed = queue(store, releases), queue(store, releases)
    products.release.side_effect = ProductServiceUnavailable("down")
    clock.step = timedelta(0)
    await releases.deliver_due()
    tried_by_its_caller = queue(store, releases, deliver_now=True)  # never failed: left alone
    products.release.side_effect = None

    assert await releases.retry_waiting_now() == 2
    assert await releases.deliver_due() == 2

    assert [c.args[0] for c in products.release.call_args_list[-2:]] == [
        failed.order_id,
        also_failed.order_id,
    ]
    assert [e.entry_id for e in store.outbox] == [tried_by_its_caller.entry_id]
    assert await releases.retry_waiting_now() == 0


async def test_an_entry_leased_by_another_worker_is_not_delivered_twice(
    store: FakeOrderStore, releases: StockReleases, products: MagicMock, clock: FixedClock
) -> None:
    entry = queue(store, releases)
    with store.unit_of_work() as uow:  # another replica claims it first
        assert uow.outbox.claim(entry, clock.now + timedelta(seconds=LEASE_S))
        uow.commit()

    assert await releases.deliver_due() == 0
    products.release.assert_not_called()


async def test_an_entry_being_delivered_is_leased_so_a_second_worker_skips_it(
    store: FakeOrderStore, releases: StockReleases, products: MagicMock
) -> None:
    queue(store, releases)
    second_worker: list[int] = []

    async def release(order_id: UUID) -> bool:
        # While the first worker waits for the Product service, another worker polls the outbox.
        if products.release.call_count == 1:
            second_worker.append(await releases.deliver_due())
        return True

    products.release.side_effect = release

    assert await releases.deliver_due() == 1
    assert second_worker == [0]
    assert products.release.call_count == 1


async def test_one_pass_delivers_at_most_its_limit(
    store: FakeOrderStore, releases: StockReleases, products: MagicMock
) -> None:
    for _ in range(3):
        queue(store, releases)

    assert await releases.deliver_due(limit=2) == 2
    assert len(store.outbox) == 1


async def test_a_release_carries_the_correlation_id_of_the_call_that_queued_it(
    store: FakeOrderStore, releases: StockReleases, products: MagicMock
) -> None:
    entry = queue(store, releases, origin=Origin("cancel-call-7"))
    seen: list[str | None] = []

    def release(order_id: UUID) -> bool:
        seen.append(call_context.correlation_id())
        return True

    products.release.side_effect = release

    await releases.deliver_due()  # from the worker, where no call's id is bound

    assert entry.correlation_id == "cancel-call-7"
    assert seen == ["cancel-call-7"]
    assert call_context.correlation_id() is None


@pytest.mark.parametrize(
    ("attempts", "base"), [(1, 2.0), (2, 4.0), (3, 8.0), (4, 16.0), (5, 20.0), (60, 20.0)]
)
async def test_backoff_grows_exponentially_to_its_cap(
    mocker: MockerFixture, attempts: int, base: float
) -> None:
    uniform = mocker.patch("common.backoff.random.uniform", side_effect=lambda a, b: b)

    assert BACKOFF.delay(attempts) == base

    uniform.assert_called_once_with(0.5, 1.0)


@pytest.mark.parametrize("call_timeout_s", [0.0, 0.5, 5.0, 60.0])
async def test_a_lease_outlasts_a_delivery_that_takes_the_whole_call_timeout(call_timeout_s: float) -> None:
    assert lease_outlasting(call_timeout_s) > call_timeout_s + 0.5  # the call, then its commit


@pytest.mark.parametrize(
    ("setting", "remaining", "budget"),
    [(0.3, None, 0.3), (0.3, 10.0, 0.3), (0.3, 0.4, 0.2), (2.0, 3.0, 1.5), (0.3, -1.0, 0.0)],
)
async def test_the_immediate_attempt_gets_the_setting_or_half_the_callers_remaining_time(
    setting: float, remaining: float | None, budget: float
) -> None:
    assert immediate_attempt_budget(setting, remaining) == pytest.approx(budget)


async def test_deliver_now_gives_the_client_no_more_than_the_budget(
    store: FakeOrderStore, releases: StockReleases, products: MagicMock
) -> None:
    entry = queue(store, releases)
    seen: list[tuple[UUID, float | None]] = []

    def release(order_id: UUID) -> bool:
        seen.append((order_id, call_context.time_remaining()))
        return True

    products.release.side_effect = release

    with call_context.deadline_bound(0.4):  # the caller's call has 0.4 s left: half of it is less than 0.3 s
        assert await releases.deliver_now(entry, call_context.time_remaining())
        after = call_context.time_remaining()

    [(released, left)] = seen
    assert released == entry.order_id
    assert left is not None and 0 < left <= 0.2
    assert after is not None and after > left  # the caller's own deadline is back


async def test_a_release_tried_at_once_is_the_workers_after_twice_the_attempt_budget_and_a_second(
    store: FakeOrderStore, products: MagicMock, clock: FixedClock
) -> None:
    # docs/guarantees.md: past the immediate attempt the outbox owns the release, the worker leaving it
    # alone only for 2 x ORDER_RELEASE_ATTEMPT_TIMEOUT_S + 1 s (so a crash right after the commit costs
    # ~1.6 s).
    releases = StockReleases(store.unit_of_work, products, clock, BACKOFF, LEASE_S, attempt_timeout_s=0.3)
    clock.step = timedelta(0)
    queued_at = clock.now
    queue(store, releases, deliver_now=True)

    clock.now = queued_at + timedelta(seconds=1.599)
    assert await releases.deliver_due() == 0
    clock.now = queued_at + timedelta(seconds=1.6)
    assert await releases.deliver_due() == 1


async def test_outbox_stats_count_the_waiting_releases_and_the_oldest(
    store: FakeOrderStore, releases: StockReleases, products: MagicMock
) -> None:
    # What the outbox worker's backlog report and the outbox gauges read.
    assert await releases.stats() == OutboxStats(0, None)
    first, _ = queue(store, releases), queue(store, releases)

    assert await releases.stats() == OutboxStats(2, first.created_at)


async def test_each_delivery_is_counted_by_its_result(
    store: FakeOrderStore, products: MagicMock, clock: FixedClock
) -> None:
    outcomes = RecordedOutcomes()
    releases = StockReleases(store.unit_of_work, products, clock, BACKOFF, LEASE_S, outcomes=outcomes)
    queue(store, releases)
    products.release.side_effect = [ProductServiceUnavailable("down"), True]

    await releases.deliver_due()
    clock.now = store.outbox[0].next_attempt_at
    await releases.deliver_due()

    assert outcomes.deliveries == ["failed", "acknowledged"]
