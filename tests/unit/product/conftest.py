"""A real mediator with the default pipeline, wired to the in-memory unit of work."""

from __future__ import annotations

import pytest

from common.behaviours import default_pipeline
from common.mediator import Mediator
from product.application import messages as m
from product.application.change_handlers import (
    DeleteProductHandler,
    UndeleteProductHandler,
    UpdateProductHandler,
)
from product.application.product_handlers import (
    BatchGetProductsHandler,
    CreateProductHandler,
    GetProductHandler,
    ListProductsHandler,
    RestockProductHandler,
)
from product.application.stock_handlers import (
    GetReservationHandler,
    ReleaseStockHandler,
    ReserveStockHandler,
)
from tests.support.clock import FixedClock
from tests.support.product_fakes import FakeProductUnitOfWork


@pytest.fixture
def uow() -> FakeProductUnitOfWork:
    return FakeProductUnitOfWork()


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock()


@pytest.fixture
def mediator(uow: FakeProductUnitOfWork, clock: FixedClock) -> Mediator:
    return Mediator(
        {
            m.CreateProduct: lambda: CreateProductHandler(uow, clock),
            m.RestockProduct: lambda: RestockProductHandler(uow, clock),
            m.UpdateProduct: lambda: UpdateProductHandler(uow, clock),
            m.DeleteProduct: lambda: DeleteProductHandler(uow, clock),
            m.UndeleteProduct: lambda: UndeleteProductHandler(uow, clock),
            m.ReserveStock: lambda: ReserveStockHandler(uow, clock),
            m.ReleaseStock: lambda: ReleaseStockHandler(uow, clock),
            m.GetProduct: lambda: GetProductHandler(uow),
            m.ListProducts: lambda: ListProductsHandler(uow),
            m.BatchGetProducts: lambda: BatchGetProductsHandler(uow),
            m.GetReservation: lambda: GetReservationHandler(uow),
        },
        default_pipeline(),
    )
