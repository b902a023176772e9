"""``eshop orders create|cancel|get|list``: place and follow orders on the Order service."""

from __future__ import annotations

import argparse
import uuid
from collections.abc import Sequence
from typing import Any

from common.generated.eshop.order.v1 import order_pb2 as pb
from common.generated.eshop.order.v1 import order_pb2_grpc as pb_grpc
from eshop_cli import arguments, exit_codes
from eshop_cli.output import emit, fields, info, table, timestamp
from eshop_cli.paging import fetch_pages
from eshop_cli.session import Session


def add_commands(subparsers: Any, client_options: argparse.ArgumentParser) -> None:
    group = subparsers.add_parser("orders", help="orders: create, cancel, get, list")
    commands = group.add_subparsers(dest="orders_command", metavar="COMMAND", required=True)

    create = commands.add_parser("create", parents=[client_options], help="place an order")
    create.add_argument(
        "--customer",
        metavar="UUID",
        help="customer id (default: the token's subject, else a new one, printed)",
    )
    create.add_argument(
        "--item",
        dest="items",
        metavar="PRODUCT_ID:QTY",
        type=arguments.order_line,
        action="append",
        required=True,
        help="an order line; repeat for more lines",
    )
    create.add_argument("--request-id", metavar="UUID", default="", help="idempotency key (AIP-155)")
    create.set_defaults(handler=create_order)

    cancel = commands.add_parser("cancel", parents=[client_options], help="cancel an order")
    cancel.add_argument("order_id", metavar="ORDER_ID")
    cancel.add_argument("--reason", default="", help="why, for the record")
    cancel.set_defaults(handler=cancel_order)

    get = commands.add_parser("get", parents=[client_options], help="show one order")
    get.add_argument("order_id", metavar="ORDER_ID")
    get.set_defaults(handler=get_order)

    listing = commands.add_parser("list", parents=[client_options], help="list orders, newest first")
    listing.add_argument("--customer", metavar="UUID", default="", help="only this customer's orders")
    listing.add_argument("--page-size", type=arguments.non_negative, default=0, help="0: server default")
    listing.add_argument("--page-token", default="", help="next_page_token of a previous page")
    listing.add_argument("--all", action="store_true", help="follow the pages to the end")
    listing.set_defaults(handler=list_orders)


def create_order(args: argparse.Namespace, session: Session) -> int:
    customer_id = args.customer
    if customer_id is None and session.token_subject is not None:
        customer_id = session.token_subject
        info(f"customer id: {customer_id} (the token's subject; pass --customer to choose)")
    if customer_id is None:
        customer_id = str(uuid.uuid4())
        info(f"customer id: {customer_id} (generated; pass --customer to choose)")
    request = pb.CreateOrderRequest(
        customer_id=customer_id,
        items=[pb.OrderLine(product_id=product_id, quantity=qty) for product_id, qty in args.items],
        request_id=args.request_id,
    )
    with session.channel(session.order_address) as channel:
        stub = pb_grpc.OrderServiceStub(channel)
        order: pb.Order = stub.CreateOrder(request, timeout=session.timeout_s, metadata=session.metadata)
    emit(order, session.json, lambda: order_view(order))
    return exit_codes.ORDER_REJECTED if order.status == pb.ORDER_STATUS_REJECTED else exit_codes.OK


def cancel_order(args: argparse.Namespace, session: Session) -> int:
    with session.channel(session.order_address) as channel:
        stub = pb_grpc.OrderServiceStub(channel)
        request = pb.CancelOrderRequest(order_id=args.order_id, reason=args.reason)
        order: pb.Order = stub.CancelOrder(request, timeout=session.timeout_s, metadata=session.metadata)
    emit(order, session.json, lambda: order_view(order))
    return exit_codes.OK


def get_order(args: argparse.Namespace, session: Session) -> int:
    with session.channel(session.order_address) as channel:
        stub = pb_grpc.OrderServiceStub(channel)
        request = pb.GetOrderRequest(order_id=args.order_id)
        order: pb.Order = stub.GetOrder(request, timeout=session.timeout_s, metadata=session.metadata)
    emit(order, session.json, lambda: order_view(order))
    return exit_codes.OK


def list_orders(args: argparse.Namespace, session: Session) -> int:
    request = pb.ListOrdersRequest(
        customer_id=args.customer, page_size=args.page_size, page_token=args.page_token
    )
    with session.channel(session.order_address) as channel:
        stub = pb_grpc.OrderServiceStub(channel)
        result: pb.ListOrdersResponse = fetch_pages(
            lambda r: stub.ListOrders(r, timeout=session.timeout_s, metadata=session.metadata),
            request,
            "orders",
            follow=args.all,
        )
    emit(result, session.json, lambda: orders_table(result.orders))
    if result.next_page_token and not session.json:
        info(f"more: eshop orders list --page-token {result.next_page_token}")
    return exit_codes.OK


def status_name(order: pb.Order) -> str:
    return pb.OrderStatus.Name(order.status).removeprefix("ORDER_STATUS_")


def orders_table(orders: Sequence[pb.Order]) -> str:
    if not orders:
        return "no orders"
    headers = ("ORDER ID", "CUSTOMER ID", "STATUS", "TOTAL", "LINES", "CREATED")
    rows = [
        (
            o.order_id,
            o.customer_id,
            status_name(o),
            o.total_amount,
            str(len(o.items)),
            timestamp(o.create_time),
        )
        for o in orders
    ]
    return table(headers, rows)


def order_view(order: pb.Order) -> str:
    summary = [
        ("order id", order.order_id),
        ("customer id", order.customer_id),
        ("status", status_name(order)),
        ("total", order.total_amount),
    ]
    if order.status_reason:
        summary.append(("reason", order.status_reason))
    if order.failed_product_ids:
        summary.append(("failed products", ", ".join(order.failed_product_ids)))
    summary += [("created", timestamp(order.create_time)), ("updated", timestamp(order.update_time))]
    if not order.items:
        return fields(summary)
    headers = ("PRODUCT ID", "NAME", "UNIT PRICE", "QTY")
    rows = [(i.product_id, i.product_name, i.unit_price, str(i.quantity)) for i in order.items]
    return f"{fields(summary)}\n\n{table(headers, rows)}"
