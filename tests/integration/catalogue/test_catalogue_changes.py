"""Catalogue management against a real server on the configured database: UpdateProduct with field masks
(AIP-134), etags (AIP-154), DeleteProduct and UndeleteProduct (AIP-164), categories; each rule of the
contract's catalogue section, with the status and details a client reads."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import grpc
import pytest
from google.protobuf.field_mask_pb2 import FieldMask

from common.generated.eshop.product.v1 import product_pb2 as pb
from common.generated.eshop.product.v1 import product_pb2_grpc as pb_grpc
from tests.support.helpers import (
    CALL_TIMEOUT_S,
    RichDetails,
    all_at_once,
    create_product,
    new_id,
    outcome,
    reserve_request,
    rich_details,
    rpc_failure,
)

Stub = pb_grpc.ProductServiceStub
PRODUCT = "eshop.product.v1.Product"
C = grpc.StatusCode


def get(stub: Stub, product_id: str) -> pb.Product:
    product: pb.Product = stub.GetProduct(pb.GetProductRequest(product_id=product_id), timeout=10)
    return product


def update(stub: Stub, product: pb.Product, *paths: str) -> pb.Product:
    request = pb.UpdateProductRequest(product=product, update_mask=FieldMask(paths=list(paths)))
    updated: pb.Product = stub.UpdateProduct(request, timeout=10)
    return updated


def delete(stub: Stub, product_id: str, etag: str = "") -> pb.Product:
    deleted: pb.Product = stub.DeleteProduct(
        pb.DeleteProductRequest(product_id=product_id, etag=etag), timeout=10
    )
    return deleted


def undelete(stub: Stub, product_id: str, etag: str = "") -> pb.Product:
    request = pb.UndeleteProductRequest(product_id=product_id, etag=etag)
    undeleted: pb.Product = stub.UndeleteProduct(request, timeout=10)
    return undeleted


def listed(stub: Stub, **fields: Any) -> list[str]:
    """Every product id the listing gives, page by page (3 a page, so paging is exercised)."""
    ids: list[str] = []
    token = ""
    while True:
        page = stub.ListProducts(pb.ListProductsRequest(page_size=3, page_token=token, **fields), timeout=10)
        ids += [p.product_id for p in page.products]
        token = page.next_page_token
        if not token:
            return ids


def unchanged_but_read(before: pb.Product, after: pb.Product) -> None:
    assert after == before, "a refused request changed the product"


def failure(call: Callable[[], object]) -> RichDetails:
    with pytest.raises(grpc.RpcError) as raised:
        call()
    return rich_details(raised.value)


# UpdateProduct ------------------------------------------------------------------------------------------


def test_update_changes_the_masked_fields_only(product_stub: Stub) -> None:
    created = create_product(product_stub, name="Mug", price="4.00", stock=7, low_stock_threshold=2)

    changes = pb.Product(product_id=created.product_id, name="ignored", price="5.50", category="mugs")
    updated = update(product_stub, changes, "price", "category")

    assert (updated.name, updated.price, updated.category) == ("Mug", "5.50", "mugs")
    assert (updated.stock_quantity, updated.low_stock_threshold) == (7, 2)
    assert updated.create_time == created.create_time
    assert updated.update_time.ToDatetime() >= created.update_time.ToDatetime()
    assert updated.etag != created.etag
    assert get(product_stub, created.product_id) == updated


def test_update_without_a_mask_changes_every_updatable_field_that_is_set(product_stub: Stub) -> None:
    created = create_product(
        product_stub, name="Mug", description="Blue", price="4.00", low_stock_threshold=2
    )

    # Read-modify-write: the whole product comes back with a new name; stock and times are not updatable
    # and, with no mask, are left alone rather than refused.
    changed = pb.Product()
    changed.CopyFrom(created)
    changed.name = "Cup"
    changed.stock_quantity = 1_000
    updated = update(product_stub, changed)

    assert (updated.name, updated.description, updated.price) == ("Cup", "Blue", "4.00")
    assert updated.stock_quantity == created.stock_quantity


def test_update_with_the_wildcard_replaces_every_updatable_field(product_stub: Stub) -> None:
    created = create_product(
        product_stub, name="Mug", description="Blue", low_stock_threshold=2, category="c"
    )

    updated = update(product_stub, pb.Product(product_id=created.product_id, name="Cup", price="1"), "*")

    assert (updated.name, updated.description, updated.price) == ("Cup", "", "1.00")
    assert (updated.low_stock_threshold, updated.category) == (0, "")
    assert updated.stock_quantity == created.stock_quantity


@pytest.mark.parametrize(
    "path", ["stock_quantity", "product_id", "create_time", "update_time", "delete_time", "etag", "colour"]
)
def test_a_mask_naming_a_field_that_is_not_updatable_is_invalid_argument_naming_it(
    product_stub: Stub, path: str
) -> None:
    created = create_product(product_stub, stock=5)

    error = rpc_failure(
        product_stub.UpdateProduct,
        pb.UpdateProductRequest(
            product=pb.Product(product_id=created.product_id, name="New", stock_quantity=9),
            update_mask=FieldMask(paths=["name", path]),
        ),
    )

    details = rich_details(error)
    assert details.code is C.INVALID_ARGUMENT
    assert details.bad_fields == ["update_mask.paths[1]"]
    assert path in details.message and path in details.bad_request[0].description
    unchanged_but_read(created, get(product_stub, created.product_id))


def test_update_applies_the_create_rules_to_the_new_values(product_stub: Stub) -> None:
    created = create_product(product_stub)
    bad = pb.Product(product_id=created.product_id, name="n" * 201, price="1.999", category="Mugs")

    error = rpc_failure(
        product_stub.UpdateProduct, pb.UpdateProductRequest(product=bad, update_mask=FieldMask(paths=["*"]))
    )

    details = rich_details(error)
    assert details.code is C.INVALID_ARGUMENT
    assert details.bad_fields == ["product.name", "product.price", "product.category"]
    unchanged_but_read(created, get(product_stub, created.product_id))


def test_update_of_an_unknown_product_is_not_found(product_stub: Stub) -> None:
    missing = new_id()
    error = rpc_failure(
        product_stub.UpdateProduct, pb.UpdateProductRequest(product=pb.Product(product_id=missing, name="x"))
    )
    details = rich_details(error)
    assert details.code is C.NOT_FOUND
    assert [(r.resource_type, r.resource_name) for r in details.resources] == [(PRODUCT, missing)]


# etags ---------------------------------------------------------------------------------------------------


def test_the_etag_changes_with_every_change_of_the_product_stock_moves_included(product_stub: Stub) -> None:
    product_id = create_product(product_stub, stock=10).product_id
    order_id = new_id()
    etags = [get(product_stub, product_id).etag]

    steps: list[Callable[[], object]] = [
        lambda: product_stub.ReserveStock(reserve_request(order_id, [(product_id, 2)]), timeout=10),
        lambda: product_stub.ReleaseStock(pb.ReleaseStockRequest(order_id=order_id), timeout=10),
        lambda: product_stub.RestockProduct(
            pb.RestockProductRequest(product_id=product_id, quantity=1), timeout=10
        ),
        lambda: update(product_stub, pb.Product(product_id=product_id, name="Renamed")),
        lambda: delete(product_stub, product_id),
        lambda: undelete(product_stub, product_id),
    ]
    for step in steps:
        step()
        etags.append(get(product_stub, product_id).etag)

    assert all(etags) and len(set(etags)) == len(etags), etags


STALE_CALLS: dict[str, Callable[[Stub, str, str], object]] = {
    "update": lambda s, p, etag: update(s, pb.Product(product_id=p, name="New", etag=etag)),
    "delete": delete,
    "undelete": undelete,
}


@pytest.mark.parametrize("call", list(STALE_CALLS))
def test_a_stale_etag_is_aborted_and_changes_nothing(product_stub: Stub, call: str) -> None:
    product_id = create_product(product_stub, stock=5).product_id
    order_id = new_id()
    product_stub.ReserveStock(reserve_request(order_id, [(product_id, 1)]), timeout=10)
    if call == "undelete":
        delete(product_stub, product_id)
    stale = get(product_stub, product_id).etag
    # A stock move is a change of the product (a release, even of a deleted one): that etag is now stale.
    product_stub.ReleaseStock(pb.ReleaseStockRequest(order_id=order_id), timeout=10)
    before = get(product_stub, product_id)
    assert before.etag != stale

    details = failure(lambda: STALE_CALLS[call](product_stub, product_id, stale))

    assert details.code is C.ABORTED
    assert product_id in details.message
    unchanged_but_read(before, get(product_stub, product_id))


@pytest.mark.parametrize("call", list(STALE_CALLS))
def test_the_current_etag_or_none_is_accepted(product_stub: Stub, call: str) -> None:
    product_id = create_product(product_stub).product_id
    if call == "undelete":
        delete(product_stub, product_id)
    current = get(product_stub, product_id).etag

    changed = STALE_CALLS[call](product_stub, product_id, current)

    assert isinstance(changed, pb.Product) and changed.etag != current
    if call == "update":
        again = STALE_CALLS[call](product_stub, product_id, "")  # empty: unconditional
        assert isinstance(again, pb.Product) and again.etag != changed.etag


def test_concurrent_updates_with_one_etag_exactly_one_wins(product_stub: Stub) -> None:
    created = create_product(product_stub, name="Mug")

    def rename(n: int) -> Callable[[], pb.Product]:
        request = pb.UpdateProductRequest(
            product=pb.Product(product_id=created.product_id, name=f"Mug {n}", etag=created.etag),
            update_mask=FieldMask(paths=["name"]),
        )
        return lambda: product_stub.UpdateProduct(request, timeout=CALL_TIMEOUT_S)

    results = all_at_once([rename(n) for n in range(12)])

    outcomes = [outcome(r) for r in results]
    assert sorted(outcomes) == ["ABORTED"] * 11 + ["OK"], outcomes
    [winner] = [r for r in results if isinstance(r, pb.Product)]
    assert get(product_stub, created.product_id) == winner


def test_concurrent_unconditional_updates_all_land_one_after_the_other(product_stub: Stub) -> None:
    created = create_product(product_stub, name="Mug")

    def rename(n: int) -> Callable[[], pb.Product]:
        request = pb.UpdateProductRequest(product=pb.Product(product_id=created.product_id, name=f"Mug {n}"))
        return lambda: product_stub.UpdateProduct(request, timeout=CALL_TIMEOUT_S)

    results = all_at_once([rename(n) for n in range(12)])

    assert [outcome(r) for r in results] == ["OK"] * 12
    etags = {r.etag for r in results if isinstance(r, pb.Product)}
    assert len(etags) == 12 and created.etag not in etags  # each one after the other, none lost
    assert get(product_stub, created.product_id).etag in etags


# Soft delete ---------------------------------------------------------------------------------------------


def test_a_deleted_product_is_still_read_by_get_and_batch_get_with_its_delete_time(
    product_stub: Stub,
) -> None:
    created = create_product(product_stub)

    deleted = delete(product_stub, created.product_id)

    assert deleted.HasField("delete_time") and deleted.delete_time.seconds > 0
    assert not created.HasField("delete_time")
    assert get(product_stub, created.product_id) == deleted
    batch = product_stub.BatchGetProducts(
        pb.BatchGetProductsRequest(product_ids=[created.product_id]), timeout=10
    )
    assert list(batch.products) == [deleted]


def test_list_leaves_deleted_products_out_unless_show_deleted(product_stub: Stub) -> None:
    ids = [create_product(product_stub, name=f"p{i}").product_id for i in range(7)]
    for gone in (ids[1], ids[4]):
        delete(product_stub, gone)

    assert listed(product_stub) == [ids[0], ids[2], ids[3], ids[5], ids[6]]
    assert listed(product_stub, show_deleted=True) == ids


def test_reserving_a_deleted_product_is_not_found_with_its_resource_and_takes_nothing(
    product_stub: Stub,
) -> None:
    kept = create_product(product_stub, stock=5).product_id
    gone = create_product(product_stub, stock=5).product_id
    delete(product_stub, gone)

    error = rpc_failure(product_stub.ReserveStock, reserve_request(new_id(), [(kept, 1), (gone, 1)]))

    details = rich_details(error)
    assert details.code is C.NOT_FOUND
    assert [(r.resource_type, r.resource_name) for r in details.resources] == [(PRODUCT, gone)]
    assert (get(product_stub, kept).stock_quantity, get(product_stub, gone).stock_quantity) == (5, 5)


def test_a_release_returns_stock_to_a_product_deleted_since(product_stub: Stub) -> None:
    product_id = create_product(product_stub, stock=5).product_id
    order_id = new_id()
    product_stub.ReserveStock(reserve_request(order_id, [(product_id, 3)]), timeout=10)
    delete(product_stub, product_id)

    released = product_stub.ReleaseStock(pb.ReleaseStockRequest(order_id=order_id), timeout=10)

    assert released.released
    after = get(product_stub, product_id)
    assert (after.stock_quantity, after.HasField("delete_time")) == (5, True)


FAILED_ON_DELETED: dict[str, Callable[[Stub, str], object]] = {
    "update": lambda s, p: update(s, pb.Product(product_id=p, name="New")),
    "restock": lambda s, p: s.RestockProduct(pb.RestockProductRequest(product_id=p, quantity=1), timeout=10),
    "delete twice": delete,
}


@pytest.mark.parametrize("call", ["update", "delete"])
def test_a_change_a_deleted_product_refuses_is_failed_precondition_even_with_the_etag_read_before(
    product_stub: Stub, call: str
) -> None:
    # A retried DeleteProduct (the same request, etag and all) says the product is deleted, not stale.
    created = create_product(product_stub)
    deleted = delete(product_stub, created.product_id, created.etag)

    details = failure(lambda: STALE_CALLS[call](product_stub, created.product_id, created.etag))

    assert details.code is C.FAILED_PRECONDITION
    assert [v.type for v in details.precondition] == ["PRODUCT_DELETED"]
    unchanged_but_read(deleted, get(product_stub, created.product_id))


@pytest.mark.parametrize("call", list(FAILED_ON_DELETED))
def test_a_deleted_product_takes_no_update_restock_or_second_delete(product_stub: Stub, call: str) -> None:
    product_id = create_product(product_stub).product_id
    deleted = delete(product_stub, product_id)

    details = failure(lambda: FAILED_ON_DELETED[call](product_stub, product_id))

    assert details.code is C.FAILED_PRECONDITION
    assert [(v.type, v.subject) for v in details.precondition] == [("PRODUCT_DELETED", product_id)]
    unchanged_but_read(deleted, get(product_stub, product_id))


def test_undelete_brings_a_product_back_and_undeleting_a_live_one_is_refused(product_stub: Stub) -> None:
    product_id = create_product(product_stub, stock=3).product_id
    deleted = delete(product_stub, product_id)

    undeleted = undelete(product_stub, product_id, deleted.etag)

    assert not undeleted.HasField("delete_time")
    assert listed(product_stub) == [product_id]
    product_stub.ReserveStock(reserve_request(new_id(), [(product_id, 1)]), timeout=10)

    details = failure(lambda: undelete(product_stub, product_id))
    assert details.code is C.FAILED_PRECONDITION
    assert [(v.type, v.subject) for v in details.precondition] == [("PRODUCT_NOT_DELETED", product_id)]


@pytest.mark.parametrize("call", [delete, undelete])
def test_delete_and_undelete_of_an_unknown_product_are_not_found(
    product_stub: Stub, call: Callable[[Stub, str], pb.Product]
) -> None:
    missing = new_id()
    details = failure(lambda: call(product_stub, missing))
    assert details.code is C.NOT_FOUND
    assert [r.resource_name for r in details.resources] == [missing]


# Categories ----------------------------------------------------------------------------------------------


def test_list_by_category_is_exact_and_pages(product_stub: Stub) -> None:
    mugs = [create_product(product_stub, name=f"mug {i}", category="mugs").product_id for i in range(5)]
    for category in ("mugs-2", "mug", ""):
        create_product(product_stub, category=category)
    delete(product_stub, mugs[2])

    assert listed(product_stub, category="mugs") == [mugs[0], mugs[1], mugs[3], mugs[4]]
    assert listed(product_stub, category="mugs", show_deleted=True) == mugs
    assert listed(product_stub, category="bowls") == []
    assert len(listed(product_stub)) == 7


def test_a_category_is_set_on_create_and_changed_or_cleared_by_update(product_stub: Stub) -> None:
    created = create_product(product_stub, category="tea-2")
    assert get(product_stub, created.product_id).category == "tea-2"

    moved = update(product_stub, pb.Product(product_id=created.product_id, category="coffee"))
    cleared = update(product_stub, pb.Product(product_id=created.product_id), "category")

    assert (moved.category, cleared.category) == ("coffee", "")


@pytest.mark.parametrize("category", ["Mugs", "mugs and cups", "m" * 51, "tea_2"])
def test_a_bad_category_is_refused_on_create_update_and_list(product_stub: Stub, category: str) -> None:
    created = create_product(product_stub)
    calls: list[tuple[Callable[..., Any], Any, str]] = [
        (
            product_stub.CreateProduct,
            pb.CreateProductRequest(name="x", price="1", category=category),
            "category",
        ),
        (
            product_stub.UpdateProduct,
            pb.UpdateProductRequest(product=pb.Product(product_id=created.product_id, category=category)),
            "product.category",
        ),
        (product_stub.ListProducts, pb.ListProductsRequest(category=category), "category"),
    ]
    for call, request, field in calls:
        details = rich_details(rpc_failure(call, request))
        assert (details.code, details.bad_fields) == (C.INVALID_ARGUMENT, [field])
    assert listed(product_stub, show_deleted=True) == [created.product_id]
