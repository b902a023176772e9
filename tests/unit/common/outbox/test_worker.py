"""The outbox worker reports what waits, once a minute at most, and only while something waits."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from unittest.mock import MagicMock

import pytest
from loguru import logger

from common.outbox.delivery import OutboxStats
from common.outbox.worker import OutboxWorker
from order.application.stock_releases import StockReleases

# How the Order service names its release worker (order.container).
AS_RELEASES = {"name": "release-outbox", "entries": "releases", "receiver": "product service"}


@pytest.fixture
def lines() -> Iterator[list[str]]:
    captured: list[str] = []
    sink = logger.add(lambda m: captured.append(m.record["message"]), level="INFO")
    yield captured
    logger.remove(sink)


def _worker(stats: OutboxStats) -> tuple[OutboxWorker, MagicMock]:
    releases = MagicMock(spec=StockReleases)
    releases.stats.return_value = stats
    releases.deliver_due.return_value = 0
    return OutboxWorker(releases, poll_interval_s=0.1, **AS_RELEASES), releases


async def test_a_non_empty_outbox_is_reported_with_its_oldest_entry(lines: list[str]) -> None:
    oldest = datetime.now(timezone.utc) - timedelta(seconds=90)
    worker, releases = _worker(OutboxStats(waiting=3, oldest=oldest))

    await worker._tick()
    await worker._tick()  # within the minute: no second line

    assert releases.deliver_due.call_count == 2
    reports = [line for line in lines if line.startswith("release outbox:")]
    assert len(reports) == 1
    assert reports[0].startswith("release outbox: 3 waiting, oldest 9")  # ~90 s old


async def test_an_empty_outbox_is_not_reported(lines: list[str]) -> None:
    worker, _ = _worker(OutboxStats(waiting=0, oldest=None))
    await worker._tick()
    assert not [line for line in lines if line.startswith("release outbox:")]


async def test_whatever_waits_is_tried_at_once_when_the_connection_comes_back(lines: list[str]) -> None:
    releases = MagicMock(spec=StockReleases)
    releases.stats.return_value = OutboxStats(waiting=0, oldest=None)
    releases.retry_waiting_now.return_value = 3
    releases.deliver_due.return_value = 0
    releases.deliver_due.return_value = 0
    connected = [True, False, False, True, True]
    worker = OutboxWorker(releases, poll_interval_s=0.1, **AS_RELEASES, connected=lambda: connected.pop(0))

    for _ in range(5):
        await worker._tick()

    # Connected, lost twice, back (the waiting releases tried now, once), still connected.
    assert releases.retry_waiting_now.call_count == 1
    assert releases.deliver_due.call_count == 5
    assert "product service connected again: 3 waiting releases tried now" in lines
