"""`eshop products ...` against a real Product service."""

from __future__ import annotations

import json
import re
from typing import Any

from tests.integration.cli.conftest import Eshop

UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


def create(eshop: Eshop, name: str = "Kettle", price: str = "19.99", stock: int = 5) -> dict[str, Any]:
    result = eshop("products", "create", "--name", name, "--price", price, "--stock", str(stock), "--json")
    assert result.returncode == 0, result.stderr
    product: dict[str, Any] = json.loads(result.stdout)
    return product


def test_create_get_list_restock_as_json(eshop: Eshop) -> None:
    created = create(eshop, name="Kettle", price="19.99", stock=5)
    assert re.fullmatch(UUID, created["product_id"])
    assert created["name"] == "Kettle"
    assert created["price"] == "19.99"
    assert created["stock_quantity"] == 5
    assert {"description", "low_stock_threshold", "create_time", "update_time"} <= created.keys()

    got = eshop("products", "get", created["product_id"], "--json")
    assert got.returncode == 0, got.stderr
    assert json.loads(got.stdout)["product_id"] == created["product_id"]

    listed = eshop("--json", "products", "list")  # --json before the subcommand works too
    assert listed.returncode == 0, listed.stderr
    assert [p["product_id"] for p in json.loads(listed.stdout)["products"]] == [created["product_id"]]

    restocked = eshop("products", "restock", created["product_id"], "--quantity", "7", "--json")
    assert restocked.returncode == 0, restocked.stderr
    assert json.loads(restocked.stdout)["stock_quantity"] == 12


def test_tables_for_people(eshop: Eshop) -> None:
    created = create(eshop, name="Pour-over kettle", price="49.00", stock=8)

    listed = eshop("products", "list")
    assert listed.returncode == 0, listed.stderr
    header, _rule, row = listed.stdout.splitlines()
    assert header.split() == ["PRODUCT", "ID", "NAME", "PRICE", "STOCK", "LOW", "STOCK", "AT"]
    assert row.split()[0] == created["product_id"]
    assert "Pour-over kettle" in row

    shown = eshop("products", "get", created["product_id"])
    assert shown.returncode == 0, shown.stderr
    assert "Pour-over kettle" in shown.stdout
    assert "49.00" in shown.stdout


def test_list_follows_pages_with_all(eshop: Eshop) -> None:
    ids = [create(eshop, name=f"Product {n}")["product_id"] for n in range(3)]

    first = json.loads(eshop("products", "list", "--page-size", "2", "--json").stdout)
    assert len(first["products"]) == 2
    assert first["next_page_token"]

    everything = json.loads(eshop("products", "list", "--page-size", "2", "--all", "--json").stdout)
    assert [p["product_id"] for p in everything["products"]] == ids
    assert everything["next_page_token"] == ""


def test_unknown_product_is_not_found_with_the_correlation_id(eshop: Eshop) -> None:
    result = eshop("products", "get", "00000000-0000-4000-8000-000000000000")

    assert result.returncode == 3
    assert result.stdout == ""
    assert "NOT_FOUND" in result.stderr
    assert re.search(rf"correlation id: {UUID}", result.stderr), result.stderr


def test_correlation_id_sent_is_quoted_on_error(eshop: Eshop) -> None:
    result = eshop(
        "--correlation-id", "cli-test:42", "products", "get", "00000000-0000-4000-8000-000000000000"
    )

    assert result.returncode == 3
    assert "correlation id: cli-test:42" in result.stderr


def test_invalid_argument_names_the_field(eshop: Eshop) -> None:
    result = eshop("products", "create", "--name", "X", "--price", "1.234", "--correlation-id", "bad-price")

    assert result.returncode == 4
    assert "INVALID_ARGUMENT" in result.stderr
    assert "field price" in result.stderr
    assert "correlation id: bad-price" in result.stderr


def test_malformed_correlation_id_is_a_usage_error(eshop: Eshop) -> None:
    result = eshop("--correlation-id", "has spaces", "products", "list")

    assert result.returncode == 2
    assert "--correlation-id" in result.stderr
