"""The composition roots: every registered handler says who owns its transactions."""

from __future__ import annotations

import pytest
from dependency_injector import containers, providers

from common.transactions import OneTransaction, OwnsTransactions
from order.container import OrderContainer
from product.container import ProductContainer

CONTAINERS = [ProductContainer, OrderContainer]


def registered(container: containers.DeclarativeContainer) -> dict[type, type]:
    """Message type -> handler class, read from the providers without building anything."""
    factories: dict[type, providers.Factory[object]] = container.handlers()  # type: ignore[attr-defined]
    return {message: factory.cls for message, factory in factories.items()}


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
