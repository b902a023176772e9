"""Every validation limit of every RPC, probed on both sides: the value just inside gets past
validation (to an answer the contract allows, never INTERNAL), the value just outside gets
INVALID_ARGUMENT naming the field, and stores nothing.

The hypothesis fuzz (test_hostile_input.py) looks for the unexpected; this table makes sure the limits
themselves are reached on every run, on every Python: a random walk rarely builds a request that is
valid in every field but one."""

from __future__ import annotations

from uuid import uuid4

import grpc
import pytest

from common.generated.eshop.order.v1 import order_pb2 as o
from common.generated.eshop.product.v1 import product_pb2 as p
from tests.support.boundaries import BY_METHOD, PROBES, Probe
from tests.support.fuzz_target import Target

C = grpc.StatusCode


def test_every_rpc_of_both_services_is_probed() -> None:
    """Every RPC of the protos is fuzzed (a case) and probed at its limits (probes)."""
    rpcs = {
        method.name
        for file, service in ((p.DESCRIPTOR, "ProductService"), (o.DESCRIPTOR, "OrderService"))
        for method in file.services_by_name[service].methods
    }
    assert set(BY_METHOD) == rpcs
    assert {probe.method for probe in PROBES} == rpcs


@pytest.mark.parametrize("probe", PROBES, ids=lambda probe: f"{probe.method}: {probe.what}")
def test_a_limit_is_enforced_exactly_at_its_edge(target: Target, probe: Probe) -> None:
    request = probe.request(target.known)
    before = target.row_counts()

    code, details, _ = target.call(probe.case, request, None)

    if probe.refused_field is None:
        assert code in probe.case.allowed - {C.INVALID_ARGUMENT}, f"{code.name}: {details[:300]}"
    else:
        assert code is C.INVALID_ARGUMENT, f"{code.name}: {details[:300]}"
        said = details.partition(f"{probe.refused_field}: ")[2]
        assert said and not said.startswith("None"), (
            f"no reason given for {probe.refused_field}: {details[:300]}"
        )
        assert target.row_counts() == before, "an invalid request changed stored data"


@pytest.mark.parametrize(
    ("probe", "says"),
    [
        (
            Probe(
                "CreateProduct", "name blank", lambda k: p.CreateProductRequest(name=" ", price="1"), "name"
            ),
            "name: is required",
        ),
        (
            Probe("ListOrders", "page_size -1", lambda k: o.ListOrdersRequest(page_size=-1), "page_size"),
            "page_size: must not be negative, got -1",
        ),
        (
            Probe("GetProduct", "id missing", lambda k: p.GetProductRequest(), "product_id"),
            "product_id: is required",
        ),
        (
            Probe(
                "ReserveStock", "no lines", lambda k: p.ReserveStockRequest(order_id=str(uuid4())), "items"
            ),
            "items: must have at least one line",
        ),
        (
            Probe(
                "CreateProduct",
                "name with a NUL",
                lambda k: p.CreateProductRequest(name="Lamp\x00", price="1"),
                "name",
            ),
            "name: must not contain NUL characters",
        ),
        # A bad value is quoted, up to 40 characters: enough to recognise it, never megabytes of it.
        (
            Probe("GetProduct", "id of 40", lambda k: p.GetProductRequest(product_id="y" * 40), "product_id"),
            f"product_id: must be a UUID, got {'y' * 40!r}",
        ),
        (
            Probe("GetProduct", "id of 41", lambda k: p.GetProductRequest(product_id="y" * 41), "product_id"),
            f"product_id: must be a UUID, got {'y' * 40 + '…'!r}",
        ),
    ],
    ids=lambda value: value.what if isinstance(value, Probe) else "",
)
def test_a_refusal_says_what_is_wrong_in_words(target: Target, probe: Probe, says: str) -> None:
    code, details, _ = target.call(probe.case, probe.request(target.known), None)

    assert code is C.INVALID_ARGUMENT
    assert says in details, details
