"""A real mediator with the default pipeline, wired to the in-memory store and a mocked ProductClient."""

from __future__ import annotations

from unittest.mock import MagicMock

import pytest
from pytest_mock import MockerFixture

from common.behaviours import default_pipeline
from common.mediator import Mediator
from order.application import messages as m
from order.application.order_handlers import (
    CancelOrderHandler,
    CreateOrderHandler,
    GetOrderHandler,
    ListOrdersHandler,
)
from order.application.product_client import ProductClient
from order.application.stock_releases import StockReleases
from tests.support.clock import FixedClock
from tests.support.order_fakes import BACKOFF, LEASE_S, FakeOrderStore


@pytest.fixture
def store() -> FakeOrderStore:
    return FakeOrderStore()


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock()


@pytest.fixture
def products(mocker: MockerFixture) -> MagicMock:
    """The ProductClient port; each test says what reserve/release answer."""
    client: MagicMock = mocker.create_autospec(ProductClient, instance=True)
    client.release.return_value = True
    return client


@pytest.fixture
def releases(store: FakeOrderStore, products: MagicMock, clock: FixedClock) -> StockReleases:
    return StockReleases(store.unit_of_work, products, clock, BACKOFF, LEASE_S)


@pytest.fixture
def mediator(
    store: FakeOrderStore, products: MagicMock, releases: StockReleases, clock: FixedClock
) -> Mediator:
    # Factories, as in the container: a fresh handler and unit of work per dispatch.
    return Mediator(
        {
            m.CreateOrder: lambda: CreateOrderHandler(store.unit_of_work(), products, releases, clock),
            m.CancelOrder: lambda: CancelOrderHandler(store.unit_of_work(), releases, clock),
            m.GetOrder: lambda: GetOrderHandler(store.unit_of_work()),
            m.ListOrders: lambda: ListOrdersHandler(store.unit_of_work()),
        },
        default_pipeline(),
    )
