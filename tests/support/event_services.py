"""Both services publishing to a broker (a private RabbitMQ in the tests) on an exchange of their own,
with fast background work: ``Servers`` (tests/support/servers.py) given the events settings."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.support.servers import Servers

# Fast background work, so the tests see publications within their patience.
FAST_EVENTS: dict[str, Any] = {
    "events_poll_interval_s": 0.1,
    "events_initial_backoff_s": 0.1,
    "events_max_backoff_s": 1.0,
    "events_publish_timeout_s": 2.0,
}


def publishing_servers(
    make_database_url: Callable[[str], str], broker_url: str, exchange: str, *, fast_events: bool = True
) -> Servers:
    """``fast_events=False``: the events settings' defaults (what the contract's 30 s is promised for)."""
    events = {"events_broker_url": broker_url, "events_exchange": exchange}
    return Servers(make_database_url, settings={**events, **(FAST_EVENTS if fast_events else {})})
