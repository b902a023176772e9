"""The CLI runs as a subprocess, as a person or a script would run it, against real servers started here."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

import common
from order.settings import OrderSettings
from product.settings import ProductSettings
from tests.support.servers import RunningServer, start_order, start_product

ENTRY = "from eshop_cli.main import main; main()"
# Variables of the environment the tests run in that would change what the CLI or `eshop up` does.
_SCRUBBED = (
    "PRODUCT_LISTEN_ADDRESS",
    "PRODUCT_DATABASE_URL",
    "ORDER_LISTEN_ADDRESS",
    "ORDER_DATABASE_URL",
    "ORDER_PRODUCT_SERVICE_TARGET",
    "ESHOP_LOG_JSON",
    "ESHOP_TOKEN",
    "PRODUCT_AUTH_MODE",
    "ORDER_AUTH_MODE",
    "ORDER_PRODUCT_TOKEN_FILE",
)


def cli_env(**extra: str) -> dict[str, str]:
    """The environment of a CLI subprocess: it imports the same `common` this test process imported
    (an installed wheel under tox, or src/ with PYTHONPATH=src)."""
    env = {k: v for k, v in os.environ.items() if k not in _SCRUBBED}
    package_root = str(Path(common.__file__ or ".").resolve().parent.parent)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH")) if p)
    env.update(extra)
    return env


def eshop_command(*args: str) -> list[str]:
    return [sys.executable, "-c", ENTRY, *args]


def run_eshop(
    *args: str, env: dict[str, str] | None = None, timeout_s: float = 60, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        eshop_command(*args),
        env=env or cli_env(),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )


@dataclass(frozen=True)
class Services:
    product_address: str
    order_address: str


Eshop = Callable[..., subprocess.CompletedProcess[str]]


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
