"""``eshop events watch``'s command line: several types after one ``--type``, and ``--json`` wherever
the other commands take it."""

from __future__ import annotations

import pytest

from eshop_cli.main import build_parser


@pytest.mark.parametrize(
    "argv",
    [
        ["--json", "events", "watch"],
        ["events", "--json", "watch"],
        ["events", "watch", "--json"],
    ],
)
def test_json_is_taken_before_or_after_the_command(argv: list[str]) -> None:
    assert build_parser().parse_args(argv).json is True


def test_without_json_the_events_are_printed_for_people() -> None:
    assert build_parser().parse_args(["events", "watch"]).json is False


def test_several_types_follow_one_type_option_or_each_their_own() -> None:
    args = build_parser().parse_args(
        ["events", "watch", "--type", "OrderConfirmed", "StockLow", "--type", "eshop.order.v1.OrderRejected"]
    )
    assert args.types == [
        "eshop.order.v1.OrderConfirmed",
        "eshop.product.v1.StockLow",
        "eshop.order.v1.OrderRejected",
    ]
