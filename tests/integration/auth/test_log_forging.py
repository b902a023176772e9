"""Nothing a caller sends can forge a line in the text log (CWE-117): a subject, a correlation id, a
name or a reason holding a line break, a carriage return, a terminal escape or a Unicode line separator
is written escaped, so every line of the log is one the services wrote."""

from __future__ import annotations

import re

import grpc
import pytest

from common.generated.eshop.order.v1 import order_pb2 as order_pb
from common.generated.eshop.product.v1 import product_pb2 as product_pb
from tests.support.auth import TIMEOUT_S, AuthedServices, bearer, new_customer
from tests.support.logs import configured_logging

FORGED_TIME = "2026-01-01 00:00:00.000"
FORGED = f"{FORGED_TIME} | INFO    | product | cid=- | forged line"
# Each way a line can be broken or a terminal fooled: a new line, a return to its start, a Unicode line
# separator, an escape sequence clearing the screen, a right-to-left override.
HOSTILE = f"mallory\n{FORGED}\r{FORGED}\u2028{FORGED}\x1b[2J\u202e"
LINE_START = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} \| ")
RAW = ("\r", "\x1b", "\u2028", "\u202e", "\x85")


def _refused(call: object) -> None:
    assert callable(call)
    with pytest.raises(grpc.RpcError):
        call()


def test_hostile_values_are_escaped_in_the_text_log(
    authed: AuthedServices, capsys: pytest.CaptureFixture[str]
) -> None:
    with configured_logging("product", "DEBUG"):
        _call_with_hostile_values(authed)

    output = capsys.readouterr().err
    lines = output.split("\n")
    assert [line for line in lines if line and not LINE_START.match(line)] == []
    assert [line for line in lines if line.startswith(FORGED_TIME)] == []  # the caller's timestamp
    assert not [raw for raw in RAW if raw in output]
    refusals = [line for line in lines if "refused /eshop.product.v1.ProductService/CreateProduct" in line]
    assert refusals and all("mallory\\n2026-01-01" in line for line in refusals)
    assert any("subject=mallory\\n2026-01-01" in line for line in lines)  # a handler's line
    assert not [line for line in lines if "forged" in line.partition(" | cid=")[2].partition(" ")[0]]


def _call_with_hostile_values(authed: AuthedServices) -> None:
    # gRPC carries no line break in metadata; a correlation id outside [A-Za-z0-9._:-] is replaced anyway.
    hostile_cid = (("x-correlation-id", "cid | INFO    | forged"),)
    staff = bearer(authed.minter.token(HOSTILE, "catalog:write", "orders:admin"))
    nobody = bearer(authed.minter.token(HOSTILE))
    # Refused at the door, naming the subject.
    _refused(
        lambda: authed.product.CreateProduct(
            product_pb.CreateProductRequest(name="Mug", price="1.00"),
            timeout=TIMEOUT_S,
            metadata=nobody + hostile_cid,
        )
    )
    # Let through: the handlers' lines carry the subject; a name and a reason of the caller's choosing.
    product = authed.product.CreateProduct(
        product_pb.CreateProductRequest(name=f"Mug\n{FORGED}", price="1.00", stock_quantity=5),
        timeout=TIMEOUT_S,
        metadata=staff + hostile_cid,
    )
    order = authed.order.CreateOrder(
        order_pb.CreateOrderRequest(
            customer_id=new_customer(), items=[order_pb.OrderLine(product_id=product.product_id, quantity=1)]
        ),
        timeout=TIMEOUT_S,
        metadata=staff,
    )
    authed.order.CancelOrder(
        order_pb.CancelOrderRequest(order_id=order.order_id, reason=f"because\n{FORGED}"),
        timeout=TIMEOUT_S,
        metadata=staff,
    )
    # Refused by validation, its message quoting the bad value.
    _refused(
        lambda: authed.product.CreateProduct(
            product_pb.CreateProductRequest(name="Mug", price=f"1\n{FORGED}"),
            timeout=TIMEOUT_S,
            metadata=staff,
        )
    )
