"""Malformed requests are refused with INVALID_ARGUMENT naming every bad field, before anything is stored."""

from __future__ import annotations

from unittest.mock import MagicMock
from uuid import uuid4

import pytest

from common.errors import InvalidArgument
from common.mediator import Mediator, Request
from order.application import messages as m
from tests.support.order_fakes import FakeOrderStore

OK_ID = str(uuid4())
P1, P2 = str(uuid4()), str(uuid4())


def lines(*pairs: tuple[str, int]) -> tuple[m.Line, ...]:
    return tuple(m.Line(p, q) for p, q in pairs)


async def bad_fields(mediator: Mediator, message: Request[object]) -> list[str]:
    with pytest.raises(InvalidArgument) as refused:
        await mediator.send(message)
    assert refused.value.code.value == "INVALID_ARGUMENT"
    return [v.field for v in refused.value.violations]


@pytest.mark.parametrize(
    ("command", "fields"),
    [
        (m.CreateOrder("", lines((P1, 1))), ["customer_id"]),
        (m.CreateOrder("not-a-uuid", lines((P1, 1))), ["customer_id"]),
        (m.CreateOrder("{" + OK_ID + "}", lines((P1, 1))), ["customer_id"]),
        (m.CreateOrder(OK_ID, ()), ["items"]),
        (m.CreateOrder(OK_ID, lines(*((str(uuid4()), 1) for _ in range(101)))), ["items"]),
        (m.CreateOrder(OK_ID, lines(("x", 1))), ["items[0].product_id"]),
        (m.CreateOrder(OK_ID, lines((P1, 1), (P1, 2))), ["items[1].product_id"]),
        (m.CreateOrder(OK_ID, lines((P1, 0))), ["items[0].quantity"]),
        (m.CreateOrder(OK_ID, lines((P1, 1), (P2, 10_001))), ["items[1].quantity"]),
        (m.CreateOrder(OK_ID, lines((P1, 1)), "not-a-uuid"), ["request_id"]),
        (
            m.CreateOrder("x", lines(("y", -1)), "z"),
            ["customer_id", "items[0].product_id", "items[0].quantity", "request_id"],
        ),
    ],
)
async def test_create_order_validation(
    mediator: Mediator, products: MagicMock, store: FakeOrderStore, command: m.CreateOrder, fields: list[str]
) -> None:
    assert await bad_fields(mediator, command) == fields
    assert store.orders == []
    assert store.commits == 0
    products.reserve.assert_not_called()


async def test_create_order_accepts_the_limits(mediator: Mediator, products: MagicMock) -> None:
    products.reserve.side_effect = AssertionError("stop here: validation passed")
    many = lines(*((str(uuid4()), 10_000) for _ in range(100)))

    with pytest.raises(AssertionError, match="validation passed"):
        await mediator.send(m.CreateOrder(OK_ID, many, str(uuid4())))


@pytest.mark.parametrize(
    ("command", "fields"),
    [
        (m.CancelOrder(""), ["order_id"]),
        (m.CancelOrder("123"), ["order_id"]),
        (m.CancelOrder(OK_ID, "x" * 501), ["reason"]),
        (m.CancelOrder("123", "x" * 501), ["order_id", "reason"]),
    ],
)
async def test_cancel_order_validation(
    mediator: Mediator, products: MagicMock, store: FakeOrderStore, command: m.CancelOrder, fields: list[str]
) -> None:
    assert await bad_fields(mediator, command) == fields
    assert store.commits == 0
    products.release.assert_not_called()


@pytest.mark.parametrize("order_id", ["", "nope", "{" + OK_ID + "}"])
async def test_get_order_validation(mediator: Mediator, order_id: str) -> None:
    assert await bad_fields(mediator, m.GetOrder(order_id)) == ["order_id"]


@pytest.mark.parametrize(
    ("query", "fields"),
    [
        (m.ListOrders(customer_id="abc"), ["customer_id"]),
        (m.ListOrders(page_size=-1), ["page_size"]),
        (m.ListOrders(customer_id="abc", page_size=-5), ["customer_id", "page_size"]),
        (m.ListOrders(page_token="not a token"), ["page_token"]),
        (m.ListOrders(page_token="eyJhIjoxfQ"), ["page_token"]),  # valid base64 JSON, wrong keys
    ],
)
async def test_list_orders_validation(mediator: Mediator, query: m.ListOrders, fields: list[str]) -> None:
    assert await bad_fields(mediator, query) == fields
