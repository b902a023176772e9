"""`eshop orders ...` against real Order and Product services."""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

from tests.support.cli import UUID, Eshop, create


def as_json(result: Any) -> dict[str, Any]:
    assert result.returncode == 0, result.stderr
    parsed: dict[str, Any] = json.loads(result.stdout)
    return parsed


def test_create_get_list_cancel(eshop: Eshop) -> None:
    kettle = create(eshop, name="Kettle", price="19.99", stock=5)
    mug = create(eshop, name="Mug", price="5.50", stock=10)
    customer = str(uuid.uuid4())

    order = as_json(
        eshop(
            "orders", "create", "--customer", customer,
            "--item", f"{kettle['product_id']}:2", "--item", f"{mug['product_id']}:3",
            "--request-id", str(uuid.uuid4()), "--json",
        )
    )  # fmt: skip
    assert order["status"] == "ORDER_STATUS_CONFIRMED"
    assert order["customer_id"] == customer
    assert order["total_amount"] == "56.48"
    assert [(i["product_name"], i["quantity"]) for i in order["items"]] == [("Kettle", 2), ("Mug", 3)]

    got = as_json(eshop("orders", "get", order["order_id"], "--json"))
    assert got["order_id"] == order["order_id"]

    listed = as_json(eshop("orders", "list", "--customer", customer, "--json"))
    assert [o["order_id"] for o in listed["orders"]] == [order["order_id"]]

    cancelled = as_json(eshop("orders", "cancel", order["order_id"], "--reason", "changed my mind", "--json"))
    assert cancelled["status"] == "ORDER_STATUS_CANCELLED"
    assert as_json(eshop("products", "get", kettle["product_id"], "--json"))["stock_quantity"] == 5


def test_tables_for_people(eshop: Eshop) -> None:
    kettle = create(eshop, name="Kettle", price="19.99", stock=5)
    customer = str(uuid.uuid4())

    created = eshop("orders", "create", "--customer", customer, "--item", f"{kettle['product_id']}:1")
    assert created.returncode == 0, created.stderr
    assert "CONFIRMED" in created.stdout
    assert "Kettle" in created.stdout

    listed = eshop("orders", "list")
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.splitlines()[0].split()[:3] == ["ORDER", "ID", "CUSTOMER"]
    assert customer in listed.stdout


def test_customer_id_is_generated_and_printed_when_omitted(eshop: Eshop) -> None:
    kettle = create(eshop, stock=5)

    result = eshop("orders", "create", "--item", f"{kettle['product_id']}:1", "--json")

    order = as_json(result)  # stdout stays pure JSON: the note goes to stderr
    match = re.search(rf"customer id: ({UUID})", result.stderr)
    assert match is not None, result.stderr
    assert order["customer_id"] == match.group(1)


def test_rejected_order_exits_7(eshop: Eshop) -> None:
    kettle = create(eshop, stock=1)

    result = eshop("orders", "create", "--item", f"{kettle['product_id']}:2", "--json")

    assert result.returncode == 7
    order = json.loads(result.stdout)
    assert order["status"] == "ORDER_STATUS_REJECTED"
    assert order["failed_product_ids"] == [kettle["product_id"]]


def test_cancel_unknown_order_is_not_found(eshop: Eshop) -> None:
    result = eshop("orders", "cancel", str(uuid.uuid4()), "--correlation-id", "cancel-unknown")

    assert result.returncode == 3
    assert "NOT_FOUND" in result.stderr
    assert "correlation id: cancel-unknown" in result.stderr


def test_malformed_item_is_a_usage_error(eshop: Eshop) -> None:
    result = eshop("orders", "create", "--item", "no-quantity-here")

    assert result.returncode == 2
    assert "PRODUCT_ID:QTY" in result.stderr
