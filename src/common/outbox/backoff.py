"""How long an outbox entry waits after a failed delivery, and how long a claim on one lasts."""

from __future__ import annotations

from common.backoff import Backoff


def outbox_backoff(initial_s: float, max_s: float) -> Backoff:
    """The delays between attempts: capped exponential, 50-100 % jitter so that replicas recovering
    together do not call in lockstep."""
    return Backoff(initial_s=initial_s, max_s=max_s, jitter=0.5)


def lease_outlasting(call_timeout_s: float) -> float:
    """How long a claimed entry is left to its claimant: longer than one delivery (a call of at most
    ``call_timeout_s``, then a commit) can take, so two workers do not deliver it at the same time."""
    return 2 * call_timeout_s + 1
