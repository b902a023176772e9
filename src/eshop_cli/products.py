"""``eshop products list|create|get|restock|update|delete|undelete``: the Product service's catalogue, for
people and scripts."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any

from google.protobuf.field_mask_pb2 import FieldMask

from common.generated.eshop.product.v1 import product_pb2 as pb
from common.generated.eshop.product.v1 import product_pb2_grpc as pb_grpc
from eshop_cli import arguments, exit_codes
from eshop_cli.output import emit, fields, info, table, timestamp
from eshop_cli.paging import fetch_pages
from eshop_cli.session import Session


def add_commands(subparsers: Any, client_options: argparse.ArgumentParser) -> None:
    group = subparsers.add_parser(
        "products", help="the catalogue: list, create, get, restock, update, delete, undelete"
    )
    commands = group.add_subparsers(dest="products_command", metavar="COMMAND", required=True)

    listing = commands.add_parser("list", parents=[client_options], help="list products, oldest first")
    listing.add_argument("--page-size", type=arguments.non_negative, default=0, help="0: server default")
    listing.add_argument("--page-token", default="", help="next_page_token of a previous page")
    listing.add_argument("--all", action="store_true", help="follow the pages to the end")
    listing.add_argument("--category", default="", help="only this category (exactly)")
    listing.add_argument("--show-deleted", action="store_true", help="include deleted products")
    listing.set_defaults(handler=list_products)

    create = commands.add_parser("create", parents=[client_options], help="add a product")
    create.add_argument("--name", required=True)
    create.add_argument("--price", required=True, help='decimal string, e.g. "19.99"')
    create.add_argument("--description", default="")
    create.add_argument("--stock", type=arguments.integer, default=0, help="initial stock (default 0)")
    create.add_argument("--low-stock-threshold", "--threshold", type=arguments.integer, default=0)
    create.add_argument("--category", default="", help="0-50 of a-z, 0-9 and '-' (default: none)")
    create.set_defaults(handler=create_product)

    get = commands.add_parser("get", parents=[client_options], help="show one product")
    get.add_argument("product_id", metavar="PRODUCT_ID")
    get.set_defaults(handler=get_product)

    restock = commands.add_parser("restock", parents=[client_options], help="add stock to a product")
    restock.add_argument("product_id", metavar="PRODUCT_ID")
    restock.add_argument("--quantity", "-q", type=arguments.integer, required=True, help="units to add")
    restock.set_defaults(handler=restock_product)

    change = commands.add_parser(
        "update",
        parents=[client_options],
        help="change a product's name, description, price, threshold or category",
        description="Changes exactly the fields given (an empty value clears a description or a category).",
    )
    change.add_argument("product_id", metavar="PRODUCT_ID")
    for option, field in UPDATE_OPTIONS.items():
        kind = arguments.integer if field == "low_stock_threshold" else str
        names = [option, "--low-stock-threshold"] if option == "--threshold" else [option]
        change.add_argument(
            *names, dest=field, type=kind, default=None, help=f"new {field.replace('_', ' ')}"
        )
    _add_etag(change)
    change.set_defaults(handler=update_product)

    delete = commands.add_parser("delete", parents=[client_options], help="soft-delete a product")
    delete.add_argument("product_id", metavar="PRODUCT_ID")
    _add_etag(delete)
    delete.set_defaults(handler=delete_product)

    undelete = commands.add_parser("undelete", parents=[client_options], help="bring a deleted product back")
    undelete.add_argument("product_id", metavar="PRODUCT_ID")
    _add_etag(undelete)
    undelete.set_defaults(handler=undelete_product)


# update's options and the Product fields they set (the update mask is the options given).
UPDATE_OPTIONS = {
    "--name": "name",
    "--description": "description",
    "--price": "price",
    "--threshold": "low_stock_threshold",
    "--category": "category",
}


def _add_etag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--etag", default="", help="only if the product is unchanged since this etag was read (else exit 5)"
    )


def list_products(args: argparse.Namespace, session: Session) -> int:
    with session.channel(session.product_address) as channel:
        stub = pb_grpc.ProductServiceStub(channel)
        request = pb.ListProductsRequest(
            page_size=args.page_size,
            page_token=args.page_token,
            category=args.category,
            show_deleted=args.show_deleted,
        )
        result: pb.ListProductsResponse = fetch_pages(
            lambda r: stub.ListProducts(r, timeout=session.timeout_s, metadata=session.metadata),
            request,
            "products",
            follow=args.all,
        )
    emit(result, session.json, lambda: products_table(result.products, deleted=args.show_deleted))
    if result.next_page_token and not session.json:
        filters = (f" --category {args.category}" if args.category else "") + (
            " --show-deleted" if args.show_deleted else ""
        )
        info(f"more: eshop products list{filters} --page-token {result.next_page_token}")
    return exit_codes.OK


def create_product(args: argparse.Namespace, session: Session) -> int:
    request = pb.CreateProductRequest(
        name=args.name,
        description=args.description,
        price=args.price,
        stock_quantity=args.stock,
        low_stock_threshold=args.low_stock_threshold,
        category=args.category,
    )
    with session.channel(session.product_address) as channel:
        stub = pb_grpc.ProductServiceStub(channel)
        product: pb.Product = stub.CreateProduct(
            request, timeout=session.timeout_s, metadata=session.metadata
        )
    emit(product, session.json, lambda: product_view(product))
    return exit_codes.OK


def get_product(args: argparse.Namespace, session: Session) -> int:
    with session.channel(session.product_address) as channel:
        stub = pb_grpc.ProductServiceStub(channel)
        request = pb.GetProductRequest(product_id=args.product_id)
        product: pb.Product = stub.GetProduct(request, timeout=session.timeout_s, metadata=session.metadata)
    emit(product, session.json, lambda: product_view(product))
    return exit_codes.OK


def restock_product(args: argparse.Namespace, session: Session) -> int:
    with session.channel(session.product_address) as channel:
        stub = pb_grpc.ProductServiceStub(channel)
        request = pb.RestockProductRequest(product_id=args.product_id, quantity=args.quantity)
        product: pb.Product = stub.RestockProduct(
            request, timeout=session.timeout_s, metadata=session.metadata
        )
    emit(product, session.json, lambda: product_view(product))
    return exit_codes.OK


def update_product(args: argparse.Namespace, session: Session) -> int:
    given = {
        field: getattr(args, field) for field in UPDATE_OPTIONS.values() if getattr(args, field) is not None
    }
    if not given:
        options = ", ".join(UPDATE_OPTIONS)
        info(f"eshop products update: error: nothing to update: give one or more of {options}")
        return exit_codes.USAGE
    # The mask names exactly the options given, so an empty --description clears it (AIP-134).
    product = pb.Product(product_id=args.product_id, etag=args.etag, **given)
    request = pb.UpdateProductRequest(product=product, update_mask=FieldMask(paths=list(given)))
    with session.channel(session.product_address) as channel:
        stub = pb_grpc.ProductServiceStub(channel)
        updated: pb.Product = stub.UpdateProduct(
            request, timeout=session.timeout_s, metadata=session.metadata
        )
    emit(updated, session.json, lambda: product_view(updated))
    return exit_codes.OK


def delete_product(args: argparse.Namespace, session: Session) -> int:
    with session.channel(session.product_address) as channel:
        stub = pb_grpc.ProductServiceStub(channel)
        request = pb.DeleteProductRequest(product_id=args.product_id, etag=args.etag)
        product: pb.Product = stub.DeleteProduct(
            request, timeout=session.timeout_s, metadata=session.metadata
        )
    emit(product, session.json, lambda: product_view(product))
    return exit_codes.OK


def undelete_product(args: argparse.Namespace, session: Session) -> int:
    with session.channel(session.product_address) as channel:
        stub = pb_grpc.ProductServiceStub(channel)
        request = pb.UndeleteProductRequest(product_id=args.product_id, etag=args.etag)
        product: pb.Product = stub.UndeleteProduct(
            request, timeout=session.timeout_s, metadata=session.metadata
        )
    emit(product, session.json, lambda: product_view(product))
    return exit_codes.OK


def products_table(products: Sequence[pb.Product], *, deleted: bool = False) -> str:
    """One row a product; with ``deleted``, a column for when each was deleted."""
    if not products:
        return "no products"
    headers: tuple[str, ...] = ("PRODUCT ID", "NAME", "CATEGORY", "PRICE", "STOCK", "LOW STOCK AT")
    rows: list[tuple[str, ...]] = [
        (p.product_id, p.name, p.category or "-", p.price, str(p.stock_quantity), str(p.low_stock_threshold))
        for p in products
    ]
    if deleted:
        headers += ("DELETED",)
        rows = [(*row, timestamp(p.delete_time)) for row, p in zip(rows, products, strict=True)]
    return table(headers, rows)


def product_view(product: pb.Product) -> str:
    return fields(
        [
            ("product id", product.product_id),
            ("name", product.name),
            ("description", product.description or "-"),
            ("category", product.category or "-"),
            ("price", product.price),
            ("stock", str(product.stock_quantity)),
            ("low stock at", str(product.low_stock_threshold)),
            ("created", timestamp(product.create_time)),
            ("updated", timestamp(product.update_time)),
            ("deleted", timestamp(product.delete_time)),
            ("etag", product.etag),
        ]
    )
