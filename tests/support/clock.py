"""A known instant and a clock that ticks from it, for every unit test."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=timezone.utc)


class FixedClock:
    """Moves ``step`` per reading (one second by default), so every write has a distinct, known time;
    ``now`` is the last reading."""

    def __init__(self, start: datetime = T0, step: timedelta = timedelta(seconds=1)) -> None:
        self.now = start
        self.step = step

    def __call__(self) -> datetime:
        self.now += self.step
        return self.now
