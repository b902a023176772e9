"""How long an outbox entry waits after a failed delivery, and how long a claim on one lasts."""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True)
class Backoff:
    initial_s: float = 0.5
    max_s: float = 10.0
    multiplier: float = 2.0

    def delay(self, attempts: int) -> float:
        """Delay before the next try after ``attempts`` failures: capped exponential, 50-100 % jitter
        so that replicas recovering together do not call in lockstep."""
        try:
            grown = self.initial_s * self.multiplier ** max(attempts - 1, 0)
        except OverflowError:  # after ~1000 failures (hours of outage) the power no longer fits a float
            grown = self.max_s
        base = min(self.max_s, grown)
        return base * random.uniform(0.5, 1.0)


def lease_outlasting(call_timeout_s: float) -> float:
    """How long a claimed entry is left to its claimant: longer than one delivery (a call of at most
    ``call_timeout_s``, then a commit) can take, so two workers do not deliver it at the same time."""
    return 2 * call_timeout_s + 1
