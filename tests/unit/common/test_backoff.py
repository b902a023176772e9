"""The one backoff: capped exponential delays, optional jitter, and the pauses it gives until a deadline."""

from __future__ import annotations

import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from common.backoff import Backoff, Pauses


@given(attempts=st.integers(min_value=1, max_value=100_000))
def test_backoff_delay_is_capped_and_jittered(attempts: int) -> None:
    backoff = Backoff(initial_s=0.5, max_s=10.0, multiplier=2.0, jitter=0.5)
    base = min(10.0, 0.5 * 2.0 ** min(attempts - 1, 64))

    delay = backoff.delay(attempts)

    assert 0.5 * base <= delay <= base


def test_jitter_spreads_the_delays() -> None:
    delays = {Backoff(initial_s=1.0, jitter=0.5).delay(1) for _ in range(50)}

    assert len(delays) > 1
    assert all(0.5 <= d <= 1.0 for d in delays)


def test_without_jitter_the_delays_double_to_their_cap() -> None:
    backoff = Backoff(initial_s=0.01, max_s=0.05)

    assert [backoff.delay(n) for n in range(1, 6)] == pytest.approx([0.01, 0.02, 0.04, 0.05, 0.05])


async def test_pauses_grow_until_the_deadline_and_the_last_is_cut_to_what_is_left() -> None:
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    give_up_at = time.monotonic() + 3.0
    pauses = Pauses(Backoff(initial_s=1.0, max_s=10.0), give_up_at, sleep)

    assert await pauses.wait() and await pauses.wait()
    assert slept == pytest.approx([1.0, 2.0])
    # The fake sleep took no time: what is left is nearly all of the 3 s, less than the next 4 s.
    assert await pauses.wait()
    assert slept[-1] <= 3.0
    assert slept[-1] == pytest.approx(give_up_at - time.monotonic(), abs=0.1)


async def test_pauses_past_their_deadline_end_at_once() -> None:
    async def sleep(seconds: float) -> None:
        raise AssertionError("no pause is left to sleep")

    pauses = Pauses(Backoff(initial_s=1.0), time.monotonic() - 0.001, sleep)

    assert not await pauses.wait()
    assert not pauses.wait_blocking()


def test_blocking_pauses_sleep_on_the_thread_until_the_deadline() -> None:
    give_up_at = time.monotonic() + 0.05
    pauses = Pauses(Backoff(initial_s=0.01, max_s=0.01), give_up_at)
    tries = 0
    while pauses.wait_blocking():
        tries += 1

    assert tries >= 1
    assert time.monotonic() >= give_up_at
