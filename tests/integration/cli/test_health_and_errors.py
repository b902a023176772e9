"""`eshop health`, `--version`, and what a client command does when nothing answers."""

from __future__ import annotations

import json

from tests.support.cli import Eshop, Services, run_eshop
from tests.support.ports import free_address
from tests.support.servers import RunningServer


def test_health_of_a_running_pair(eshop: Eshop, services: Services) -> None:
    result = eshop("health", "--json")

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {
        "product": {"address": services.product_address, "status": "SERVING"},
        "order": {"address": services.order_address, "status": "SERVING"},
    }


def test_health_with_a_service_unreachable(services: Services) -> None:
    closed = free_address()

    result = run_eshop(
        "--product-address", services.product_address, "--order-address", closed, "--timeout", "5", "health"
    )

    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert any(line.split()[0] == "product" and line.split()[-1] == "SERVING" for line in lines[2:])
    assert any(line.split()[0] == "order" and line.split()[-1] == "UNREACHABLE" for line in lines[2:])


def test_client_command_against_a_closed_port_exits_5() -> None:
    closed = free_address()

    result = run_eshop("--product-address", closed, "--correlation-id", "nobody-home", "products", "list")

    assert result.returncode == 5
    assert "UNAVAILABLE" in result.stderr
    assert "nobody-home" in result.stderr
    assert closed in result.stderr


def test_version() -> None:
    result = run_eshop("--version")

    assert result.returncode == 0
    assert result.stdout.startswith("eshop ")


def test_health_of_one_service_ignores_the_other(product_server: RunningServer) -> None:
    # Only the Product service runs: a Product container's HEALTHCHECK must not depend on Order.
    address = f"127.0.0.1:{product_server.port}"
    closed = free_address()
    addresses = ("--product-address", address, "--order-address", closed, "--timeout", "5")

    only_product = run_eshop(*addresses, "health", "--service", "product", "--json")
    both = run_eshop(*addresses, "health")

    assert only_product.returncode == 0, only_product.stderr
    assert json.loads(only_product.stdout) == {"product": {"address": address, "status": "SERVING"}}
    assert both.returncode == 1


def test_health_of_the_order_service_alone_fails_when_it_is_down() -> None:
    result = run_eshop("--order-address", free_address(), "--timeout", "2", "health", "--service", "order")

    assert result.returncode == 1
    assert "UNREACHABLE" in result.stdout
