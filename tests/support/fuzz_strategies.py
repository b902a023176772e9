"""Hypothesis strategies for hostile requests: every RPC of both services, with the status codes the
contract allows for it. Values are what a well-behaved gRPC client can put on the wire (protobuf
refuses surrogates and out-of-range int32 before sending, so those never reach a server)."""

from __future__ import annotations

import string
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import grpc
from google.protobuf.field_mask_pb2 import FieldMask
from google.protobuf.message import Message
from hypothesis import strategies as st

from common.generated.eshop.order.v1 import order_pb2 as o
from common.generated.eshop.product.v1 import product_pb2 as p
from common.pagination import encode_token

C = grpc.StatusCode
SERVICES = {"product": "eshop.product.v1.ProductService", "order": "eshop.order.v1.OrderService"}
INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1


@dataclass(frozen=True)
class Known:
    """Ids that exist, so that fuzzing reaches past validation into the handlers."""

    product_ids: Sequence[str]
    order_ids: Sequence[str]


def huge_text() -> st.SearchStrategy[str]:
    """Up to ~100k characters, cheaply: one character repeated, some prefix or suffix around it."""
    chars = st.characters(blacklist_categories=["Cs"])
    return st.builds(
        lambda pre, c, n, post: pre + c * n + post,
        st.text(max_size=5),
        chars,
        st.integers(0, 100_000),
        st.text(max_size=5),
    )


def texts() -> st.SearchStrategy[str]:
    return st.one_of(
        st.text(st.characters(blacklist_categories=["Cs"]), max_size=60),
        st.sampled_from(
            ["", " ", "\x00", "\u202e", "null", "0", "-1", "1e3", "NaN", "'; DROP TABLE products;--"]
        ),
        huge_text(),
    )


def ids(known: Sequence[str]) -> st.SearchStrategy[str]:
    """Real ids, their spelling variants, random UUIDs and anything else."""
    real = st.sampled_from(list(known)) if known else st.nothing()
    return st.one_of(
        real,
        st.just(""),  # a missing id: proto3 sends nothing at all
        real.map(str.upper),
        real.map(lambda v: "{" + v + "}"),
        real.map(lambda v: v.replace("-", "")),
        real.map(lambda v: " " + v),
        st.uuids().map(str),
        st.uuids(version=1).map(lambda u: "urn:uuid:" + str(u)),
        texts(),
    )


def int32s() -> st.SearchStrategy[int]:
    edges = [0, 1, -1, 2, 9_999, 10_000, 10_001, 1_000_000, INT32_MAX, INT32_MIN, INT32_MAX - 1]
    return st.one_of(st.sampled_from(edges), st.integers(INT32_MIN, INT32_MAX), st.integers(-3, 20))


def prices() -> st.SearchStrategy[str]:
    return st.one_of(
        st.decimals(allow_nan=True, allow_infinity=True, places=None).map(str),
        st.sampled_from(["0", "0.00", "1000000", "1000000.01", "-0", "1.999", "1e2", " 1", "1_0", "٣"]),
        texts(),
    )


def categories() -> st.SearchStrategy[str]:
    return st.one_of(
        st.sampled_from(["", "mugs", "a-b-0", "c" * 50, "c" * 51, "Mugs", "mugs cups", "mugs_2", "-"]),
        st.text(st.sampled_from("abcz09-_A "), max_size=55),
        texts(),
    )


def etags() -> st.SearchStrategy[str]:
    return st.one_of(st.just(""), st.sampled_from(["0", "1", "2", "-1", '"1"', "W/1"]), texts())


def masks() -> st.SearchStrategy[FieldMask]:
    path = st.one_of(
        st.sampled_from(
            [
                *("name", "description", "price", "low_stock_threshold", "category", "*", "stock_quantity"),
                *("product_id", "etag", "create_time", "update_time", "delete_time", "product.name", ""),
            ]
        ),
        texts(),
    )
    return st.builds(FieldMask, paths=st.lists(path, max_size=4))


def products(known: Known) -> st.SearchStrategy[p.Product]:
    """A product as UpdateProductRequest carries it: every field, output-only ones included."""
    return st.builds(
        p.Product,
        product_id=ids(known.product_ids),
        name=texts(),
        description=texts(),
        price=prices(),
        stock_quantity=int32s(),
        low_stock_threshold=int32s(),
        category=categories(),
        etag=etags(),
    )


def page_tokens() -> st.SearchStrategy[str]:
    json_values = st.one_of(st.none(), st.integers(), st.text(max_size=40), st.booleans())
    forged = st.fixed_dictionaries({"t": json_values, "id": json_values}).map(encode_token)
    dated = st.builds(
        lambda t, i: encode_token({"t": t, "id": i}),
        st.datetimes(timezones=st.timezones() | st.none()).map(lambda d: d.isoformat()),
        st.uuids().map(str),
    )
    return st.one_of(st.just(""), texts(), forged, dated)


def correlation_ids() -> st.SearchStrategy[str | None]:
    """Printable ASCII only: gRPC's client itself refuses other header bytes before sending."""
    printable = st.characters(min_codepoint=0x20, max_codepoint=0x7E)
    return st.one_of(
        st.none(),
        st.text(printable, max_size=200),
        st.text(string.ascii_letters + "._:-", min_size=1, max_size=140),
    )


def stock_items(known: Known, make: Callable[..., Any]) -> st.SearchStrategy[list[Any]]:
    item = st.builds(make, product_id=ids(known.product_ids), quantity=int32s())
    # Valid lines with one hostile line among them: the only way a single bad field (an empty id, a
    # quantity of 0) gets as far as the database when validation misses it.
    valid = st.builds(
        make,
        product_id=st.sampled_from(list(known.product_ids)) | st.uuids().map(str),
        quantity=st.integers(1, 10_000),
    )
    one_bad = st.builds(
        lambda good, bad, at: [*good[:at], bad, *good[at:]],
        st.lists(valid, max_size=3, unique_by=lambda line: line.product_id),
        item,
        st.integers(0, 3),
    )
    return st.one_of(st.lists(item, max_size=4), one_bad, st.lists(item, min_size=99, max_size=102))


@dataclass(frozen=True)
class RpcCase:
    service: str  # "product" or "order"
    method: str
    requests: Callable[[Known], st.SearchStrategy[Message]]
    allowed: frozenset[grpc.StatusCode]

    @property
    def path(self) -> str:
        return f"/{SERVICES[self.service]}/{self.method}"


def _codes(*codes: grpc.StatusCode) -> frozenset[grpc.StatusCode]:
    return frozenset({C.OK, C.INVALID_ARGUMENT, *codes})


CASES = [
    RpcCase(
        "product",
        "CreateProduct",
        lambda k: st.builds(
            p.CreateProductRequest,
            name=texts(),
            description=texts(),
            price=prices(),
            stock_quantity=int32s(),
            low_stock_threshold=int32s(),
            category=categories(),
        ),
        _codes(),
    ),
    RpcCase(
        "product",
        "GetProduct",
        lambda k: st.builds(p.GetProductRequest, product_id=ids(k.product_ids)),
        _codes(C.NOT_FOUND),
    ),
    RpcCase(
        "product",
        "ListProducts",
        lambda k: st.builds(
            p.ListProductsRequest,
            page_size=int32s(),
            page_token=page_tokens(),
            category=categories(),
            show_deleted=st.booleans(),
        ),
        _codes(),
    ),
    RpcCase(
        "product",
        "BatchGetProducts",
        lambda k: st.builds(p.BatchGetProductsRequest, product_ids=st.lists(ids(k.product_ids), max_size=6)),
        _codes(C.NOT_FOUND),
    ),
    RpcCase(
        "product",
        "RestockProduct",
        lambda k: st.builds(p.RestockProductRequest, product_id=ids(k.product_ids), quantity=int32s()),
        _codes(C.NOT_FOUND, C.FAILED_PRECONDITION),
    ),
    RpcCase(
        "product",
        "UpdateProduct",
        lambda k: st.builds(p.UpdateProductRequest, product=products(k), update_mask=masks()),
        _codes(C.NOT_FOUND, C.FAILED_PRECONDITION, C.ABORTED),
    ),
    RpcCase(
        "product",
        "DeleteProduct",
        lambda k: st.builds(p.DeleteProductRequest, product_id=ids(k.product_ids), etag=etags()),
        _codes(C.NOT_FOUND, C.FAILED_PRECONDITION, C.ABORTED),
    ),
    RpcCase(
        "product",
        "UndeleteProduct",
        lambda k: st.builds(p.UndeleteProductRequest, product_id=ids(k.product_ids), etag=etags()),
        _codes(C.NOT_FOUND, C.FAILED_PRECONDITION, C.ABORTED),
    ),
    RpcCase(
        "product",
        "ReserveStock",
        lambda k: st.builds(
            p.ReserveStockRequest, order_id=ids(k.order_ids), items=stock_items(k, p.StockItem)
        ),
        _codes(C.NOT_FOUND, C.FAILED_PRECONDITION, C.ALREADY_EXISTS),
    ),
    RpcCase(
        "product",
        "ReleaseStock",
        lambda k: st.builds(p.ReleaseStockRequest, order_id=ids(k.order_ids)),
        _codes(),
    ),
    RpcCase(
        "product",
        "GetReservation",
        lambda k: st.builds(p.GetReservationRequest, order_id=ids(k.order_ids)),
        _codes(C.NOT_FOUND),
    ),
    RpcCase(
        "order",
        "CreateOrder",
        lambda k: st.builds(
            o.CreateOrderRequest,
            customer_id=ids(k.order_ids),
            items=stock_items(k, o.OrderLine),
            request_id=st.one_of(st.just(""), ids(k.order_ids)),
        ),
        _codes(),
    ),
    RpcCase(
        "order",
        "CancelOrder",
        lambda k: st.builds(o.CancelOrderRequest, order_id=ids(k.order_ids), reason=texts()),
        _codes(C.NOT_FOUND, C.FAILED_PRECONDITION),
    ),
    RpcCase(
        "order",
        "GetOrder",
        lambda k: st.builds(o.GetOrderRequest, order_id=ids(k.order_ids)),
        _codes(C.NOT_FOUND),
    ),
    RpcCase(
        "order",
        "ListOrders",
        lambda k: st.builds(
            o.ListOrdersRequest, customer_id=ids(k.order_ids), page_size=int32s(), page_token=page_tokens()
        ),
        _codes(),
    ),
]
