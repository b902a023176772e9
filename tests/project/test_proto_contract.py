"""The wire contract of protos/: every message's fields by name, number and type, every enum value,
every RPC with its request and response. Adding is welcome; renaming, renumbering or retyping breaks
every client compiled from an older copy (and an older replica of the other service), so a change of
any line below fails here.

protos/ is compiled as an outside client compiles it (``protoc -Iprotos``), not read back from the
committed stubs: tests/project/test_generated_stubs.py holds those to protos/.
"""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path

import pytest
from google.protobuf import descriptor_pb2
from grpc_tools import protoc

PROTOS = Path(__file__).resolve().parents[2] / "protos"
Field = descriptor_pb2.FieldDescriptorProto

# Each message as the contract writes it: ``[repeated] type name = number;`` (types relative to the
# message's package).
MESSAGES = {
    "eshop.product.v1.Product": """
        string product_id = 1; string name = 2; string description = 3; string price = 4;
        int32 stock_quantity = 5; int32 low_stock_threshold = 6;
        google.protobuf.Timestamp create_time = 7; google.protobuf.Timestamp update_time = 8;
        string etag = 9; google.protobuf.Timestamp delete_time = 10; string category = 11;""",
    "eshop.product.v1.CreateProductRequest": """
        string name = 1; string description = 2; string price = 3; int32 stock_quantity = 4;
        int32 low_stock_threshold = 5; string category = 6;""",
    "eshop.product.v1.GetProductRequest": "string product_id = 1;",
    "eshop.product.v1.ListProductsRequest": """
        int32 page_size = 1; string page_token = 2; string category = 3; bool show_deleted = 4;""",
    "eshop.product.v1.ListProductsResponse": "repeated Product products = 1; string next_page_token = 2;",
    "eshop.product.v1.BatchGetProductsRequest": "repeated string product_ids = 1;",
    "eshop.product.v1.BatchGetProductsResponse": "repeated Product products = 1;",
    "eshop.product.v1.RestockProductRequest": "string product_id = 1; int32 quantity = 2;",
    "eshop.product.v1.UpdateProductRequest": """
        Product product = 1; google.protobuf.FieldMask update_mask = 2;""",
    "eshop.product.v1.DeleteProductRequest": "string product_id = 1; string etag = 2;",
    "eshop.product.v1.UndeleteProductRequest": "string product_id = 1; string etag = 2;",
    "eshop.product.v1.StockItem": "string product_id = 1; int32 quantity = 2;",
    "eshop.product.v1.ReserveStockRequest": "string order_id = 1; repeated StockItem items = 2;",
    "eshop.product.v1.ReservedItem": """
        string product_id = 1; string name = 2; string unit_price = 3; int32 quantity = 4;""",
    "eshop.product.v1.ReserveStockResponse": """
        string order_id = 1; repeated ReservedItem items = 2; google.protobuf.Timestamp reserve_time = 3;""",
    "eshop.product.v1.ReleaseStockRequest": "string order_id = 1;",
    "eshop.product.v1.ReleaseStockResponse": "string order_id = 1; bool released = 2;",
    # The project's own addition: an Order replica of an older release calls it too.
    "eshop.product.v1.GetReservationRequest": "string order_id = 1;",
    "eshop.product.v1.Reservation": """
        string order_id = 1; Reservation.State state = 2; repeated ReservedItem items = 3;
        google.protobuf.Timestamp reserve_time = 4;""",
    "eshop.product.v1.ProductCreated": "Product product = 1;",
    "eshop.product.v1.ProductUpdated": "Product product = 1; google.protobuf.FieldMask update_mask = 2;",
    "eshop.product.v1.ProductDeleted": "Product product = 1;",
    "eshop.product.v1.StockLow": "Product product = 1;",
    "eshop.order.v1.OrderLine": "string product_id = 1; int32 quantity = 2;",
    "eshop.order.v1.OrderItem": """
        string product_id = 1; string product_name = 2; string unit_price = 3; int32 quantity = 4;""",
    "eshop.order.v1.Order": """
        string order_id = 1; string customer_id = 2; OrderStatus status = 3; repeated OrderItem items = 4;
        string total_amount = 5; string status_reason = 6; repeated string failed_product_ids = 7;
        google.protobuf.Timestamp create_time = 8; google.protobuf.Timestamp update_time = 9;""",
    "eshop.order.v1.CreateOrderRequest": """
        string customer_id = 1; repeated OrderLine items = 2; string request_id = 3;""",
    "eshop.order.v1.CancelOrderRequest": "string order_id = 1; string reason = 2;",
    "eshop.order.v1.GetOrderRequest": "string order_id = 1;",
    "eshop.order.v1.ListOrdersRequest": "string customer_id = 1; int32 page_size = 2; string page_token = 3;",
    "eshop.order.v1.ListOrdersResponse": "repeated Order orders = 1; string next_page_token = 2;",
    "eshop.order.v1.OrderConfirmed": "Order order = 1;",
    "eshop.order.v1.OrderRejected": "Order order = 1;",
    "eshop.order.v1.OrderCancelled": "Order order = 1;",
}

ENUMS = {
    "eshop.order.v1.OrderStatus": {
        "ORDER_STATUS_UNSPECIFIED": 0,
        "ORDER_STATUS_PENDING": 1,
        "ORDER_STATUS_CONFIRMED": 2,
        "ORDER_STATUS_REJECTED": 3,
        "ORDER_STATUS_CANCELLED": 4,
    },
}

# rpc -> (request, response), package-relative.
SERVICES = {
    "eshop.product.v1.ProductService": {
        "CreateProduct": ("CreateProductRequest", "Product"),
        "GetProduct": ("GetProductRequest", "Product"),
        "ListProducts": ("ListProductsRequest", "ListProductsResponse"),
        "BatchGetProducts": ("BatchGetProductsRequest", "BatchGetProductsResponse"),
        "RestockProduct": ("RestockProductRequest", "Product"),
        "UpdateProduct": ("UpdateProductRequest", "Product"),
        "DeleteProduct": ("DeleteProductRequest", "Product"),
        "UndeleteProduct": ("UndeleteProductRequest", "Product"),
        "ReserveStock": ("ReserveStockRequest", "ReserveStockResponse"),
        "ReleaseStock": ("ReleaseStockRequest", "ReleaseStockResponse"),
        "GetReservation": ("GetReservationRequest", "Reservation"),
    },
    "eshop.order.v1.OrderService": {
        "CreateOrder": ("CreateOrderRequest", "Order"),
        "CancelOrder": ("CancelOrderRequest", "Order"),
        "GetOrder": ("GetOrderRequest", "Order"),
        "ListOrders": ("ListOrdersRequest", "ListOrdersResponse"),
    },
}

_FIELD = re.compile(r"(repeated )?([\w.]+) (\w+) = (\d+);")
_SCALARS = {
    Field.TYPE_STRING: "string",
    Field.TYPE_INT32: "int32",
    Field.TYPE_INT64: "int64",
    Field.TYPE_BOOL: "bool",
    Field.TYPE_BYTES: "bytes",
    Field.TYPE_DOUBLE: "double",
}


def _compiled(tmp_path: Path) -> descriptor_pb2.FileDescriptorSet:
    out = tmp_path / "protos.pb"
    well_known = resources.files("grpc_tools") / "_proto"
    protos = sorted(str(p.relative_to(PROTOS)) for p in PROTOS.rglob("*.proto"))
    args = ["protoc", f"-I{PROTOS}", f"-I{well_known}", f"--descriptor_set_out={out}", *protos]
    assert protoc.main(args) == 0, "protos/ does not compile"
    return descriptor_pb2.FileDescriptorSet.FromString(out.read_bytes())


@pytest.fixture(scope="module")
def compiled(tmp_path_factory: pytest.TempPathFactory) -> descriptor_pb2.FileDescriptorSet:
    return _compiled(tmp_path_factory.mktemp("protos"))


def _relative(type_name: str, package: str) -> str:
    return type_name.removeprefix(f".{package}.").removeprefix(".")


def _declared(field: descriptor_pb2.FieldDescriptorProto, package: str) -> tuple[str, str, int]:
    """``(type, name, number)`` as the contract writes the field (``repeated`` prefixed to the type)."""
    kind = _SCALARS.get(field.type) or _relative(field.type_name, package)
    repeated = "repeated " if field.label == Field.LABEL_REPEATED else ""
    return f"{repeated}{kind}", field.name, field.number


def _messages(files: descriptor_pb2.FileDescriptorSet) -> dict[str, dict[str, tuple[str, str, int]]]:
    found = {}
    for file in files.file:
        for message in file.message_type:
            fields = {f.name: _declared(f, file.package) for f in message.field}
            found[f"{file.package}.{message.name}"] = fields
    return found


@pytest.mark.parametrize("message", sorted(MESSAGES))
def test_every_field_keeps_its_name_number_and_type(
    compiled: descriptor_pb2.FileDescriptorSet, message: str
) -> None:
    declared = _messages(compiled).get(message)
    assert declared is not None, f"protos/ has no message {message}"
    expected = {
        name: (f"{repeated or ''}{kind}", name, int(number))
        for repeated, kind, name, number in _FIELD.findall(MESSAGES[message])
    }
    assert {name: declared.get(name) for name in expected} == expected
    # A field added to a contract message takes a number of its own, never a contract field's.
    taken = {number for _, _, number in expected.values()}
    reused = [f for name, f in declared.items() if name not in expected and f[2] in taken]
    assert reused == [], f"{message}: {reused} reuse a contract field's number"


def test_the_enum_values_keep_their_names_and_numbers(compiled: descriptor_pb2.FileDescriptorSet) -> None:
    found = {
        f"{file.package}.{enum.name}": {value.name: value.number for value in enum.value}
        for file in compiled.file
        for enum in file.enum_type
    }
    for name, values in ENUMS.items():
        assert {k: v for k, v in found.get(name, {}).items() if k in values} == values, name


def test_every_rpc_keeps_its_name_request_and_response(compiled: descriptor_pb2.FileDescriptorSet) -> None:
    found = {
        f"{file.package}.{service.name}": {
            rpc.name: (_relative(rpc.input_type, file.package), _relative(rpc.output_type, file.package))
            for rpc in service.method
        }
        for file in compiled.file
        for service in file.service
    }
    for name, rpcs in SERVICES.items():
        assert {k: v for k, v in found.get(name, {}).items() if k in rpcs} == rpcs, name


def test_the_contract_table_parses_completely() -> None:
    """A typo in the table above (a missing ``;``) would silently drop a field from the check."""
    for message, text in MESSAGES.items():
        assert len(_FIELD.findall(text)) == text.count(";"), message
