"""The CLI runs as a subprocess, as a person or a script would run it, against real servers started here."""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator

import pytest

from order.settings import OrderSettings
from product.settings import ProductSettings
from tests.support.cli import Eshop, Services, run_eshop
from tests.support.servers import RunningServer, start_order, start_product


@pytest.fixture
def services(make_database_url: Callable[[str], str]) -> Iterator[Services]:
    """A Product and an Order server on ephemeral ports, each with a fresh database."""
    product_settings = ProductSettings(
        listen_address="127.0.0.1:0", database_url=make_database_url("product")
    )
    product, _ = start_product(product_settings)
    running: list[RunningServer] = [product]
    try:
        order_settings = OrderSettings(
            listen_address="127.0.0.1:0",
            database_url=make_database_url("order"),
            product_service_target=f"127.0.0.1:{product.port}",
        )
        order, _ = start_order(order_settings)
        running.append(order)
        yield Services(f"127.0.0.1:{product.port}", f"127.0.0.1:{order.port}")
    finally:
        for server in reversed(running):
            server.stop(0)


@pytest.fixture
def eshop(services: Services) -> Eshop:
    """``eshop(*args)`` runs the CLI against ``services`` (addresses given as global options)."""

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        addresses = ("--product-address", services.product_address, "--order-address", services.order_address)
        return run_eshop(*addresses, *args)

    return run
