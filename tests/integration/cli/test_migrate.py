"""`eshop product|order migrate` as a release step runs it: the database reaches the newest schema, a
service told not to migrate (`*_MIGRATE_ON_START=false`) then starts and works on it, and refuses to start
on a database nobody migrated; `--sql` prints the upgrade for a DBA and connects to nothing."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import grpc
import pytest

from common.generated.eshop.order.v1 import order_pb2, order_pb2_grpc
from common.generated.eshop.product.v1 import product_pb2, product_pb2_grpc
from order.settings import OrderSettings
from product.settings import ProductSettings
from tests.support.cli import cli_env, eshop_command, run_eshop
from tests.support.ports import free_address
from tests.support.servers import start_order, start_product

SERVICES = ["product", "order"]


def _migrate(service: str, url: str, *extra: str) -> subprocess.CompletedProcess[str]:
    return run_eshop(service, "migrate", *extra, env=cli_env(**{f"{service.upper()}_DATABASE_URL": url}))


def test_product_migrate_then_a_service_that_does_not_migrate_serves(
    make_database_url: Callable[[str], str],
) -> None:
    url = make_database_url("product")
    result = _migrate("product", url)
    assert result.returncode == 0, result.stderr
    assert "is at the newest schema" in result.stderr

    settings = ProductSettings(listen_address="127.0.0.1:0", database_url=url, migrate_on_start=False)
    running, _ = start_product(settings)
    try:
        with grpc.insecure_channel(running.address) as channel:
            stub = product_pb2_grpc.ProductServiceStub(channel)
            created = stub.CreateProduct(
                product_pb2.CreateProductRequest(name="Mug", price="4.50", stock_quantity=3), timeout=10
            )
            assert (
                stub.GetProduct(
                    product_pb2.GetProductRequest(product_id=created.product_id), timeout=10
                ).stock_quantity
                == 3
            )
    finally:
        running.stop(0)


def test_order_migrate_then_a_service_that_does_not_migrate_serves(
    make_database_url: Callable[[str], str],
) -> None:
    url = make_database_url("order")
    result = _migrate("order", url)
    assert result.returncode == 0, result.stderr
    assert _migrate("order", url).returncode == 0  # a second release step finds nothing to do

    settings = OrderSettings(
        listen_address="127.0.0.1:0",
        database_url=url,
        migrate_on_start=False,
        product_service_target=free_address(),  # never called: there is nothing to reserve or reconcile
    )
    running, _ = start_order(settings)
    try:
        with grpc.insecure_channel(running.address) as channel:
            reply = order_pb2_grpc.OrderServiceStub(channel).ListOrders(
                order_pb2.ListOrdersRequest(), timeout=10
            )
            assert list(reply.orders) == []
    finally:
        running.stop(0)


@pytest.mark.parametrize("service", SERVICES)
def test_a_service_told_not_to_migrate_refuses_an_unmigrated_database_in_one_line(
    service: str, make_database_url: Callable[[str], str]
) -> None:
    prefix = service.upper()
    env = cli_env(
        **{
            f"{prefix}_LISTEN_ADDRESS": free_address(),
            f"{prefix}_DATABASE_URL": make_database_url(service),
            f"{prefix}_MIGRATE_ON_START": "false",
            "ORDER_PRODUCT_SERVICE_TARGET": free_address(),
        }
    )
    result = subprocess.run(
        eshop_command(service, "serve"), env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    refusals = [line for line in result.stderr.splitlines() if f"eshop {service} migrate" in line]
    assert len(refusals) == 1, result.stderr
    assert "service not started" in refusals[0]


@pytest.mark.parametrize("service", SERVICES)
@pytest.mark.parametrize(
    "url_of",
    [
        # A file in a directory that does not exist: creating either would show a connection was made.
        lambda tmp: f"sqlite:///{tmp / 'absent' / 'eshop.db'}",
        # Port 1 on loopback: nothing listens, so a connection attempt would fail the command.
        lambda tmp: "postgresql+psycopg://eshop:pw@127.0.0.1:1/eshop",
    ],
    ids=["sqlite", "postgresql"],
)
def test_migrate_sql_prints_the_create_tables_and_touches_no_database(
    service: str, url_of: Callable[[Path], str], tmp_path: Path
) -> None:
    result = _migrate(service, url_of(tmp_path), "--sql")

    assert result.returncode == 0, result.stderr
    assert "CREATE TABLE" in result.stdout
    assert f"CREATE TABLE {service}_alembic_version" in result.stdout
    table = "products" if service == "product" else "orders"
    assert f"CREATE TABLE {table} " in result.stdout
    assert not (tmp_path / "absent").exists()


def test_migrate_against_a_database_that_does_not_answer_fails_in_one_line() -> None:
    result = _migrate("order", "postgresql+psycopg://eshop:s3cret@127.0.0.1:1/eshop")

    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("eshop order migrate: cannot migrate postgresql+psycopg://eshop:***@")
    assert "s3cret" not in result.stderr
