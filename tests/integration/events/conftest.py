"""Both services publishing to a private RabbitMQ (tests/support/rabbitmq_broker.py), each test on an exchange
of its own, read by an ``EventTap`` bound to it before anything is published."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator

import pytest

from tests.support.event_services import publishing_servers
from tests.support.event_tap import EventTap
from tests.support.rabbitmq_broker import PrivateRabbit
from tests.support.servers import Servers


@pytest.fixture
def exchange() -> str:
    return f"eshop.events.test-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def tap(rabbitmq: PrivateRabbit, exchange: str) -> Iterator[EventTap]:
    listening = EventTap(rabbitmq.url, exchange)
    try:
        yield listening
    finally:
        listening.close()


@pytest.fixture
def services(
    make_database_url: Callable[[str], str], rabbitmq: PrivateRabbit, exchange: str
) -> Iterator[Servers]:
    started = publishing_servers(make_database_url, rabbitmq.url, exchange)
    try:
        yield started
    finally:
        started.close()
