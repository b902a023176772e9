"""``eshop products list|create|get|restock``: the Product service's catalogue, for people and scripts."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any

from common.generated.eshop.product.v1 import product_pb2 as pb
from common.generated.eshop.product.v1 import product_pb2_grpc as pb_grpc
from eshop_cli import arguments, exit_codes
from eshop_cli.output import emit, fields, info, table, timestamp
from eshop_cli.paging import fetch_pages
from eshop_cli.session import Session


def add_commands(subparsers: Any, client_options: argparse.ArgumentParser) -> None:
    group = subparsers.add_parser("products", help="the catalogue: list, create, get, restock")
    commands = group.add_subparsers(dest="products_command", metavar="COMMAND", required=True)

    listing = commands.add_parser("list", parents=[client_options], help="list products, oldest first")
    listing.add_argument("--page-size", type=arguments.non_negative, default=0, help="0: server default")
    listing.add_argument("--page-token", default="", help="next_page_token of a previous page")
    listing.add_argument("--all", action="store_true", help="follow the pages to the end")
    listing.set_defaults(handler=list_products)

    create = commands.add_parser("create", parents=[client_options], help="add a product")
    create.add_argument("--name", required=True)
    create.add_argument("--price", required=True, help='decimal string, e.g. "19.99"')
    create.add_argument("--description", default="")
    create.add_argument("--stock", type=arguments.integer, default=0, help="initial stock (default 0)")
    create.add_argument("--low-stock-threshold", type=arguments.integer, default=0)
    create.set_defaults(handler=create_product)

    get = commands.add_parser("get", parents=[client_options], help="show one product")
    get.add_argument("product_id", metavar="PRODUCT_ID")
    get.set_defaults(handler=get_product)

    restock = commands.add_parser("restock", parents=[client_options], help="add stock to a product")
    restock.add_argument("product_id", metavar="PRODUCT_ID")
    restock.add_argument("--quantity", "-q", type=arguments.integer, required=True, help="units to add")
    restock.set_defaults(handler=restock_product)


def list_products(args: argparse.Namespace, session: Session) -> int:
    with session.channel(session.product_address) as channel:
        stub = pb_grpc.ProductServiceStub(channel)
        request = pb.ListProductsRequest(page_size=args.page_size, page_token=args.page_token)
        result: pb.ListProductsResponse = fetch_pages(
            lambda r: stub.ListProducts(r, timeout=session.timeout_s, metadata=session.metadata),
            request,
            "products",
            follow=args.all,
        )
    emit(result, session.json, lambda: products_table(result.products))
    if result.next_page_token and not session.json:
        info(f"more: eshop products list --page-token {result.next_page_token}")
    return exit_codes.OK


def create_product(args: argparse.Namespace, session: Session) -> int:
    request = pb.CreateProductRequest(
        name=args.name,
        description=args.description,
        price=args.price,
        stock_quantity=args.stock,
        low_stock_threshold=args.low_stock_threshold,
    )
    with session.channel(session.product_address) as channel:
        stub = pb_grpc.ProductServiceStub(channel)
        product: pb.Product = stub.CreateProduct(
            request, timeout=session.timeout_s, metadata=session.metadata
        )
    emit(product, session.json, lambda: product_view(product))
    return 0


def get_product(args: argparse.Namespace, session: Session) -> int:
    with session.channel(session.product_address) as channel:
        stub = pb_grpc.ProductServiceStub(channel)
        request = pb.GetProductRequest(product_id=args.product_id)
        product: pb.Product = stub.GetProduct(request, timeout=session.timeout_s, metadata=session.metadata)
    emit(product, session.json, lambda: product_view(product))
    return 0


def restock_product(args: argparse.Namespace, session: Session) -> int:
    with session.channel(session.product_address) as channel:
        stub = pb_grpc.ProductServiceStub(channel)
        request = pb.RestockProductRequest(product_id=args.product_id, quantity=args.quantity)
        product: pb.Product = stub.RestockProduct(
            request, timeout=session.timeout_s, metadata=session.metadata
        )
    emit(product, session.json, lambda: product_view(product))
    return 0


def products_table(products: Sequence[pb.Product]) -> str:
    if not products:
        return "no products"
    headers = ("PRODUCT ID", "NAME", "PRICE", "STOCK", "LOW STOCK AT")
    rows = [
        (p.product_id, p.name, p.price, str(p.stock_quantity), str(p.low_stock_threshold)) for p in products
    ]
    return table(headers, rows)


def product_view(product: pb.Product) -> str:
    return fields(
        [
            ("product id", product.product_id),
            ("name", product.name),
            ("description", product.description or "-"),
            ("price", product.price),
            ("stock", str(product.stock_quantity)),
            ("low stock at", str(product.low_stock_threshold)),
            ("created", timestamp(product.create_time)),
            ("updated", timestamp(product.update_time)),
        ]
    )
