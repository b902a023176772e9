"""The composition roots: every registered handler says who owns its transactions."""

from __future__ import annotations

import pytest
from dependency_injector import containers, providers

from common.transactions import OneTransaction, OwnsTransactions
from order.application import messages as m
from order.container import OrderContainer
from product.container import ProductContainer

CONTAINERS = [ProductContainer, OrderContainer]


def factories(container: containers.DeclarativeContainer) -> dict[type, providers.Factory[object]]:
    """Message type -> the provider of its handler, read without building anything."""
    table: dict[type, providers.Factory[object]] = container.handlers()  # type: ignore[attr-defined]
    return table


def registered(container: containers.DeclarativeContainer) -> dict[type, type]:
    """Message type -> handler class."""
    return {message: factory.cls for message, factory in factories(container).items()}


@pytest.mark.parametrize("container_type", CONTAINERS, ids=lambda c: c.__name__)
def test_every_handler_is_either_one_transaction_or_owns_its_transactions(
    container_type: type[containers.DeclarativeContainer],
) -> None:
    handlers = registered(container_type())
    assert handlers
    undeclared = {
        message.__name__: handler.__name__
        for message, handler in handlers.items()
        if issubclass(handler, OneTransaction) == issubclass(handler, OwnsTransactions)
    }
    assert undeclared == {}, "each handler derives from exactly one of OneTransaction, OwnsTransactions"


def test_every_call_to_the_product_service_goes_out_as_the_order_service_with_one_identity() -> None:
    """Handlers, the outbox worker (through the releases) and the reconciler share one product client,
    and that client carries the Order service's own token, read from the providers."""
    container = OrderContainer()
    client = container.product_client

    assert container.releases.kwargs["product_client"] is client
    assert container.reconciler.kwargs["product_client"] is client
    assert factories(container)[m.CreateOrder].kwargs["products"] is client
    assert client.kwargs["identity"] is container.product_identity
