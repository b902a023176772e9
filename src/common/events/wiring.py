"""What a service that publishes integration events adds to its declaration (``common.service``): with a
broker configured, the event worker among its background workers (the broker's connection is that
worker's to make, in the background: neither a call nor the start waits for the broker) and the
broker's connection among what it closes; without one, nothing."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Protocol

from common.service import BackgroundWorker
from common.settings import ServerSettings


class Closable(Protocol):
    async def close(self) -> None: ...


class PublishingContainer(Protocol):
    """The providers of a composition root that publishes events."""

    @property
    def settings(self) -> Callable[[], ServerSettings]: ...
    @property
    def event_worker(self) -> Callable[[], BackgroundWorker]: ...
    @property
    def broker(self) -> Callable[[], Closable]: ...


def event_workers(container: PublishingContainer) -> Sequence[BackgroundWorker]:
    return [container.event_worker()] if container.settings().events_broker_url else []


def event_closing(container: PublishingContainer) -> Sequence[Callable[[], Awaitable[None]]]:
    return [container.broker().close] if container.settings().events_broker_url else []
