"""Every validation limit of every RPC as a probe: a request valid in every field but one, with that
field just inside or just outside its limit. test_validation_boundaries.py runs each probe; the
hypothesis fuzz starts from them as explicit examples."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from google.protobuf.field_mask_pb2 import FieldMask
from google.protobuf.message import Message

from common.generated.eshop.order.v1 import order_pb2 as o
from common.generated.eshop.product.v1 import product_pb2 as p
from common.validation import MAX_BATCH_GET_IDS
from tests.support.fuzz_strategies import CASES, Known, RpcCase
from tests.support.helpers import new_id

BY_METHOD = {case.method: case for case in CASES}


@dataclass(frozen=True)
class Probe:
    method: str
    what: str
    request: Callable[[Known], Message]
    # None: the request is valid; else the field INVALID_ARGUMENT must name.
    refused_field: str | None

    @property
    def case(self) -> RpcCase:
        return BY_METHOD[self.method]


def ok(method: str, what: str, request: Callable[[Known], Message]) -> Probe:
    return Probe(method, what, request, None)


def bad(method: str, what: str, field: str, request: Callable[[Known], Message]) -> Probe:
    return Probe(method, what, request, field)


def _product(**overrides: object) -> p.CreateProductRequest:
    fields: dict[str, object] = {"name": "Lamp", "description": "", "price": "9.50", "stock_quantity": 3}
    return p.CreateProductRequest(**{**fields, **overrides})


def _update(k: Known, *paths: str, **fields: object) -> p.UpdateProductRequest:
    """An update of a known product, valid but for what ``fields`` and ``paths`` make of it."""
    product = p.Product(**{"product_id": k.product_ids[0], "name": "Lamp", **fields})  # type: ignore[arg-type]
    return p.UpdateProductRequest(product=product, update_mask=FieldMask(paths=list(paths)))


def _update_probes() -> list[Probe]:
    """The mask (AIP-134) and the create rules on the fields it names."""
    u = "UpdateProduct"
    return [
        *_id_probes(
            u,
            "product.product_id",
            lambda v: p.UpdateProductRequest(product=p.Product(product_id=v, name="n")),
        ),
        ok(u, "no mask: the fields set", lambda k: _update(k, price="2.00")),
        ok(u, "mask name", lambda k: _update(k, "name")),
        ok(u, "mask *", lambda k: _update(k, "*", price="1.00")),
        ok(u, "mask clears the description", lambda k: _update(k, "description")),
        ok(u, "mask sets the threshold to 0", lambda k: _update(k, "low_stock_threshold")),
        bad(u, "mask stock_quantity", "update_mask.paths[0]", lambda k: _update(k, "stock_quantity")),
        bad(u, "mask etag", "update_mask.paths[1]", lambda k: _update(k, "name", "etag")),
        bad(u, "mask product_id", "update_mask.paths[0]", lambda k: _update(k, "product_id")),
        bad(u, "mask create_time", "update_mask.paths[0]", lambda k: _update(k, "create_time")),
        bad(u, "mask unknown field", "update_mask.paths[0]", lambda k: _update(k, "colour")),
        bad(u, "nothing to update", "update_mask", lambda k: _update(k, name="")),
        ok(u, "name 200", lambda k: _update(k, name="n" * 200)),
        bad(u, "name 201", "product.name", lambda k: _update(k, name="n" * 201)),
        bad(u, "name blank", "product.name", lambda k: _update(k, "name", name=" ")),
        bad(u, "name with a NUL", "product.name", lambda k: _update(k, name="Lamp\x00")),
        ok(u, "description 2000", lambda k: _update(k, description="d" * 2000)),
        bad(u, "description 2001", "product.description", lambda k: _update(k, description="d" * 2001)),
        ok(u, "price 1000000", lambda k: _update(k, price="1000000")),
        bad(u, "price 1000000.01", "product.price", lambda k: _update(k, price="1000000.01")),
        bad(u, "price 0.001", "product.price", lambda k: _update(k, price="0.001")),
        bad(u, "threshold -1", "product.low_stock_threshold", lambda k: _update(k, low_stock_threshold=-1)),
        ok(u, "category 50", lambda k: _update(k, category="c" * 50)),
        bad(u, "category 51", "product.category", lambda k: _update(k, category="c" * 51)),
        bad(u, "category upper case", "product.category", lambda k: _update(k, category="Mugs")),
        ok(u, "etag stale", lambda k: _update(k, etag="0")),
    ]


def _lines(make: Callable[..., Message], *pairs: tuple[str, int]) -> list[Message]:
    return [make(product_id=pid, quantity=q) for pid, q in pairs]


def _many(make: Callable[..., Message], k: Known, n: int) -> list[Message]:
    """``n`` distinct lines: the known products first, then ids nobody has (valid, just unknown)."""
    ids = [*k.product_ids, *(new_id() for _ in range(n))][:n]
    return [make(product_id=pid, quantity=1) for pid in ids]


def _id_probes(method: str, field: str, build: Callable[[str], Message]) -> list[Probe]:
    """Missing, empty-ish and malformed ids are refused; an unknown well-formed id gets past."""
    return [
        bad(method, f"{field} missing", field, lambda k: build("")),
        bad(method, f"{field} blank", field, lambda k: build(" ")),
        bad(method, f"{field} not a uuid", field, lambda k: build("not-a-uuid")),
        bad(method, f"{field} braced", field, lambda k: build("{" + new_id() + "}")),
        bad(method, f"{field} bare hex", field, lambda k: build(new_id().replace("-", ""))),
        bad(method, f"{field} padded", field, lambda k: build(" " + new_id())),
        ok(method, f"{field} unknown uuid", lambda k: build(new_id())),
        ok(method, f"{field} upper case", lambda k: build(new_id().upper())),
    ]


def _line_probes(
    method: str, build: Callable[[Known, list[Message]], Message], make: Callable[..., Message]
) -> list[Probe]:
    """The order-line rules, shared by ReserveStock and CreateOrder."""

    def with_lines(lines: Callable[[Known], list[Message]]) -> Callable[[Known], Message]:
        return lambda k: build(k, lines(k))

    first, second = (lambda k: k.product_ids[0]), (lambda k: k.product_ids[1])
    return [
        bad(method, "no lines", "items", with_lines(lambda k: [])),
        ok(method, "100 lines", with_lines(lambda k: _many(make, k, 100))),
        bad(method, "101 lines", "items", with_lines(lambda k: _many(make, k, 101))),
        ok(method, "quantity 1", with_lines(lambda k: _lines(make, (first(k), 1)))),
        bad(method, "quantity 0", "items[0].quantity", with_lines(lambda k: _lines(make, (first(k), 0)))),
        bad(method, "quantity -1", "items[0].quantity", with_lines(lambda k: _lines(make, (first(k), -1)))),
        ok(method, "quantity 10000", with_lines(lambda k: _lines(make, (first(k), 10_000)))),
        bad(
            method,
            "quantity 10001",
            "items[0].quantity",
            with_lines(lambda k: _lines(make, (first(k), 10_001))),
        ),
        bad(
            method,
            "second line's quantity 0",
            "items[1].quantity",
            with_lines(lambda k: _lines(make, (first(k), 1), (second(k), 0))),
        ),
        bad(
            method,
            "product id missing on a line",
            "items[0].product_id",
            with_lines(lambda k: [make(quantity=1)]),
        ),
        bad(
            method,
            "product id missing on the second line",
            "items[1].product_id",
            with_lines(lambda k: [make(product_id=first(k), quantity=1), make(quantity=1)]),
        ),
        bad(
            method,
            "product id malformed on a line",
            "items[0].product_id",
            with_lines(lambda k: _lines(make, ("not-a-uuid", 1))),
        ),
        bad(
            method,
            "product twice",
            "items[1].product_id",
            with_lines(lambda k: _lines(make, (first(k), 1), (first(k).upper(), 1))),
        ),
    ]


def _reserve(order_id: str) -> Callable[[Known, list[Message]], Message]:
    return lambda k, items: p.ReserveStockRequest(order_id=order_id or new_id(), items=items)


def _create_order(k: Known, items: list[Message], **fields: str) -> o.CreateOrderRequest:
    return o.CreateOrderRequest(**{"customer_id": new_id(), **fields}, items=items)


def _one_line(make: Callable[..., Message], k: Known) -> list[Message]:
    return [make(product_id=k.product_ids[0], quantity=1)]


PROBES: list[Probe] = [
    # CreateProduct: name 1..200 and description ..2000 characters once stripped, price, stock >= 0.
    ok("CreateProduct", "name 200", lambda k: _product(name="n" * 200)),
    ok("CreateProduct", "name 200 with blanks around", lambda k: _product(name="  " + "n" * 200 + " ")),
    bad("CreateProduct", "name 201", "name", lambda k: _product(name="n" * 201)),
    bad("CreateProduct", "name missing", "name", lambda k: _product(name="")),
    bad("CreateProduct", "name blank", "name", lambda k: _product(name=" \t")),
    ok("CreateProduct", "name 1", lambda k: _product(name="n")),
    # PostgreSQL cannot store a NUL character in text: refused up front on both databases.
    bad("CreateProduct", "name with a NUL", "name", lambda k: _product(name="Lamp\x00")),
    bad("CreateProduct", "description with a NUL", "description", lambda k: _product(description="\x00")),
    ok("CreateProduct", "description 2000", lambda k: _product(description="d" * 2000)),
    bad("CreateProduct", "description 2001", "description", lambda k: _product(description="d" * 2001)),
    ok("CreateProduct", "price 0", lambda k: _product(price="0")),
    ok("CreateProduct", "price 1000000", lambda k: _product(price="1000000")),
    ok("CreateProduct", "price 1000000.00", lambda k: _product(price="1000000.00")),
    bad("CreateProduct", "price 1000000.01", "price", lambda k: _product(price="1000000.01")),
    bad("CreateProduct", "price 10000000", "price", lambda k: _product(price="10000000")),
    ok("CreateProduct", "price 0.01", lambda k: _product(price="0.01")),
    bad("CreateProduct", "price 0.001", "price", lambda k: _product(price="0.001")),
    bad("CreateProduct", "price -0.01", "price", lambda k: _product(price="-0.01")),
    bad("CreateProduct", "price missing", "price", lambda k: _product(price="")),
    bad("CreateProduct", "price 1e2", "price", lambda k: _product(price="1e2")),
    bad("CreateProduct", "price bare dot", "price", lambda k: _product(price=".")),
    ok("CreateProduct", "stock 0", lambda k: _product(stock_quantity=0)),
    bad("CreateProduct", "stock -1", "stock_quantity", lambda k: _product(stock_quantity=-1)),
    ok("CreateProduct", "threshold 0", lambda k: _product(low_stock_threshold=0)),
    bad("CreateProduct", "threshold -1", "low_stock_threshold", lambda k: _product(low_stock_threshold=-1)),
    # category: 0..50 characters of a-z, 0-9 and '-'.
    ok("CreateProduct", "category 50", lambda k: _product(category="c" * 50)),
    ok("CreateProduct", "category a-z0-9-", lambda k: _product(category="mugs-2")),
    bad("CreateProduct", "category 51", "category", lambda k: _product(category="c" * 51)),
    bad("CreateProduct", "category upper case", "category", lambda k: _product(category="Mugs")),
    bad("CreateProduct", "category with a blank", "category", lambda k: _product(category="mugs ")),
    *_id_probes("GetProduct", "product_id", lambda v: p.GetProductRequest(product_id=v)),
    ok("GetProduct", "known id", lambda k: p.GetProductRequest(product_id=k.product_ids[0])),
    # ListProducts / ListOrders: page_size >= 0 (0: the default; above 500: 500).
    bad("ListProducts", "page_size -1", "page_size", lambda k: p.ListProductsRequest(page_size=-1)),
    *(
        ok("ListProducts", f"page_size {n}", lambda k, n=n: p.ListProductsRequest(page_size=n))
        for n in (0, 1, 500, 501)
    ),
    bad("ListProducts", "page_token garbage", "page_token", lambda k: p.ListProductsRequest(page_token="x")),
    ok("ListProducts", "category 50", lambda k: p.ListProductsRequest(category="c" * 50)),
    bad("ListProducts", "category 51", "category", lambda k: p.ListProductsRequest(category="c" * 51)),
    bad("ListProducts", "category upper case", "category", lambda k: p.ListProductsRequest(category="Mugs")),
    ok("ListProducts", "show_deleted", lambda k: p.ListProductsRequest(show_deleted=True)),
    *_update_probes(),
    *_id_probes("DeleteProduct", "product_id", lambda v: p.DeleteProductRequest(product_id=v)),
    ok(
        "DeleteProduct", "etag stale", lambda k: p.DeleteProductRequest(product_id=k.product_ids[0], etag="0")
    ),
    *_id_probes("UndeleteProduct", "product_id", lambda v: p.UndeleteProductRequest(product_id=v)),
    ok("UndeleteProduct", "a live product", lambda k: p.UndeleteProductRequest(product_id=k.product_ids[0])),
    ok("BatchGetProducts", "no ids", lambda k: p.BatchGetProductsRequest()),
    ok(
        "BatchGetProducts",
        f"{MAX_BATCH_GET_IDS} ids",
        lambda k: p.BatchGetProductsRequest(
            product_ids=[*k.product_ids, *(new_id() for _ in range(MAX_BATCH_GET_IDS - len(k.product_ids)))]
        ),
    ),
    bad(
        "BatchGetProducts",
        f"{MAX_BATCH_GET_IDS + 1} ids",
        "product_ids",
        lambda k: p.BatchGetProductsRequest(product_ids=[new_id() for _ in range(MAX_BATCH_GET_IDS + 1)]),
    ),
    bad(
        "BatchGetProducts",
        "an empty id among known ones",
        "product_ids[1]",
        lambda k: p.BatchGetProductsRequest(product_ids=[k.product_ids[0], ""]),
    ),
    bad(
        "BatchGetProducts",
        "a malformed id",
        "product_ids[0]",
        lambda k: p.BatchGetProductsRequest(product_ids=["not-a-uuid"]),
    ),
    *_id_probes("RestockProduct", "product_id", lambda v: p.RestockProductRequest(product_id=v, quantity=1)),
    ok(
        "RestockProduct",
        "quantity 1",
        lambda k: p.RestockProductRequest(product_id=k.product_ids[0], quantity=1),
    ),
    bad(
        "RestockProduct",
        "quantity 0",
        "quantity",
        lambda k: p.RestockProductRequest(product_id=k.product_ids[0], quantity=0),
    ),
    bad(
        "RestockProduct",
        "quantity -1",
        "quantity",
        lambda k: p.RestockProductRequest(product_id=k.product_ids[0], quantity=-1),
    ),
    ok(
        "RestockProduct",
        "quantity past the stock column's range",
        lambda k: p.RestockProductRequest(product_id=k.product_ids[0], quantity=2**31 - 1),
    ),
    *_id_probes(
        "ReserveStock",
        "order_id",
        lambda v: p.ReserveStockRequest(order_id=v, items=[p.StockItem(product_id=new_id(), quantity=1)]),
    ),
    *_line_probes("ReserveStock", _reserve(""), p.StockItem),
    *_id_probes("ReleaseStock", "order_id", lambda v: p.ReleaseStockRequest(order_id=v)),
    *_id_probes("GetReservation", "order_id", lambda v: p.GetReservationRequest(order_id=v)),
    # The Order service.
    *_line_probes("CreateOrder", _create_order, o.OrderLine),
    *(
        bad(probe.method, probe.what, probe.refused_field or "", probe.request)
        for probe in _id_probes("CreateOrder", "customer_id", lambda v: o.CreateOrderRequest(customer_id=v))
        if probe.refused_field
    ),
    ok(
        "CreateOrder",
        "customer_id unknown",
        lambda k: _create_order(k, _one_line(o.OrderLine, k)),
    ),
    ok(
        "CreateOrder",
        "request_id missing",
        lambda k: _create_order(k, _one_line(o.OrderLine, k), request_id=""),
    ),
    ok(
        "CreateOrder",
        "request_id a uuid",
        lambda k: _create_order(k, _one_line(o.OrderLine, k), request_id=new_id()),
    ),
    bad(
        "CreateOrder",
        "request_id malformed",
        "request_id",
        lambda k: _create_order(k, _one_line(o.OrderLine, k), request_id="not-a-uuid"),
    ),
    *_id_probes("CancelOrder", "order_id", lambda v: o.CancelOrderRequest(order_id=v)),
    bad(
        "CancelOrder",
        "reason with a NUL",
        "reason",
        lambda k: o.CancelOrderRequest(order_id=k.order_ids[0], reason="oops\x00"),
    ),
    ok("CancelOrder", "reason 500", lambda k: o.CancelOrderRequest(order_id=new_id(), reason="r" * 500)),
    bad(
        "CancelOrder",
        "reason 501",
        "reason",
        lambda k: o.CancelOrderRequest(order_id=k.order_ids[0], reason="r" * 501),
    ),
    *_id_probes("GetOrder", "order_id", lambda v: o.GetOrderRequest(order_id=v)),
    bad("ListOrders", "page_size -1", "page_size", lambda k: o.ListOrdersRequest(page_size=-1)),
    *(
        ok("ListOrders", f"page_size {n}", lambda k, n=n: o.ListOrdersRequest(page_size=n))
        for n in (0, 1, 500, 501)
    ),
    ok("ListOrders", "customer_id missing", lambda k: o.ListOrdersRequest(customer_id="")),
    ok("ListOrders", "customer_id unknown", lambda k: o.ListOrdersRequest(customer_id=new_id())),
    bad("ListOrders", "customer_id malformed", "customer_id", lambda k: o.ListOrdersRequest(customer_id="x")),
    bad("ListOrders", "page_token garbage", "page_token", lambda k: o.ListOrdersRequest(page_token="x")),
]
