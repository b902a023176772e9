"""`eshop products ...` against a real Product service."""

from __future__ import annotations

import json
import re
import subprocess
from typing import Any

from eshop_cli.seed import seed_if_empty
from tests.support.cli import UUID, Eshop, Services, create


def as_json(result: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    assert result.returncode == 0, result.stderr
    parsed: dict[str, Any] = json.loads(result.stdout)
    return parsed


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
    assert header.split() == ["PRODUCT", "ID", "NAME", "CATEGORY", "PRICE", "STOCK", "LOW", "STOCK", "AT"]
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


def test_update_changes_exactly_the_fields_given(eshop: Eshop) -> None:
    created = create(eshop, "Kettle", "19.99", 5, "--description", "Steel", "--threshold", "2")
    assert created["low_stock_threshold"] == 2 and created["category"] == ""

    updated = as_json(
        eshop(
            "products", "update", created["product_id"], "--name", "Pour-over kettle", "--price", "21.50",
            "--category", "brewing", "--threshold", "0", "--description", "", "--json",
        )
    )  # fmt: skip

    assert (updated["name"], updated["price"], updated["category"]) == (
        "Pour-over kettle",
        "21.50",
        "brewing",
    )
    assert (updated["low_stock_threshold"], updated["description"]) == (0, "")  # given empty or 0: cleared
    assert updated["stock_quantity"] == 5
    assert updated["etag"] != created["etag"]
    renamed = as_json(eshop("products", "update", created["product_id"], "--name", "Kettle", "--json"))
    assert (renamed["name"], renamed["price"], renamed["category"]) == ("Kettle", "21.50", "brewing")


def test_a_stale_etag_exits_5_and_the_current_one_goes_through(eshop: Eshop) -> None:
    created = create(eshop)
    eshop("products", "restock", created["product_id"], "-q", "1")  # a stock move: the etag moves on

    stale = eshop("products", "update", created["product_id"], "--price", "1.00", "--etag", created["etag"])
    assert stale.returncode == 5, stale.stderr
    assert "ABORTED" in stale.stderr and stale.stdout == ""

    current = as_json(eshop("products", "get", created["product_id"], "--json"))["etag"]
    shown = eshop("products", "update", created["product_id"], "--price", "1.00", "--etag", current)
    assert shown.returncode == 0, shown.stderr
    assert re.search(r"^price +1\.00$", shown.stdout, re.MULTILINE), shown.stdout
    assert re.search(r"^etag +\S+$", shown.stdout, re.MULTILINE), shown.stdout


def test_update_with_nothing_to_change_is_a_usage_error(eshop: Eshop) -> None:
    result = eshop("products", "update", "00000000-0000-4000-8000-000000000000")
    assert result.returncode == 2
    assert "nothing to update" in result.stderr and "--name" in result.stderr


def test_delete_list_and_undelete(eshop: Eshop) -> None:
    kept = create(eshop, "Mug", "4.00", 3, "--category", "cups")
    gone = create(eshop, "Cup", "3.00", 3, "--category", "cups")
    other = create(eshop, "Beans", "9.00", 3, "--category", "coffee")

    deleted = as_json(eshop("products", "delete", gone["product_id"], "--etag", gone["etag"], "--json"))
    assert deleted["delete_time"]

    def listed(*options: str) -> list[str]:
        return [p["product_id"] for p in as_json(eshop("products", "list", *options, "--json"))["products"]]

    assert listed() == [kept["product_id"], other["product_id"]]
    assert listed("--category", "cups") == [kept["product_id"]]
    assert listed("--category", "cups", "--show-deleted") == [kept["product_id"], gone["product_id"]]
    table = eshop("products", "list", "--show-deleted")
    assert table.stdout.splitlines()[0].split()[-1] == "DELETED", table.stdout
    assert [line.split()[-1] == "-" for line in table.stdout.splitlines()[2:]] == [True, False, True]

    twice = eshop("products", "delete", gone["product_id"])
    assert (
        twice.returncode == 4 and "FAILED_PRECONDITION" in twice.stderr and "PRODUCT_DELETED" in twice.stderr
    )
    restock = eshop("products", "restock", gone["product_id"], "-q", "1")
    assert restock.returncode == 4 and "FAILED_PRECONDITION" in restock.stderr

    undeleted = as_json(eshop("products", "undelete", gone["product_id"], "--json"))
    assert "delete_time" not in undeleted or not undeleted["delete_time"]
    assert listed("--category", "cups") == [kept["product_id"], gone["product_id"]]
    again = eshop("products", "undelete", gone["product_id"])
    assert again.returncode == 4 and "PRODUCT_NOT_DELETED" in again.stderr


def test_catalogue_changes_of_an_unknown_product_exit_3(eshop: Eshop) -> None:
    missing = "00000000-0000-4000-8000-000000000000"
    for command in (("update", missing, "--name", "x"), ("delete", missing), ("undelete", missing)):
        result = eshop("products", *command)
        assert result.returncode == 3, (command, result.stderr)
        assert f"missing eshop.product.v1.Product {missing}" in result.stderr


def test_a_bad_category_names_the_field(eshop: Eshop) -> None:
    result = eshop("products", "create", "--name", "X", "--price", "1", "--category", "Big Mugs")
    assert result.returncode == 4
    assert "field category" in result.stderr


def test_the_demo_catalogue_is_not_seeded_again_over_deleted_products(
    eshop: Eshop, services: Services
) -> None:
    only = create(eshop)
    eshop("products", "delete", only["product_id"])

    seeded, page = seed_if_empty(services.product_address, timeout_s=10)

    assert not seeded and [p.product_id for p in page] == []
