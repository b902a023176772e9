"""The demo catalogue ``eshop up`` puts in an empty Product service."""

from __future__ import annotations

from dataclasses import dataclass

import grpc

from common import correlation
from common.generated.eshop.product.v1 import product_pb2 as pb
from common.generated.eshop.product.v1 import product_pb2_grpc as pb_grpc


@dataclass(frozen=True)
class DemoProduct:
    name: str
    description: str
    price: str
    stock: int
    low_stock_threshold: int
    category: str


DEMO_CATALOGUE = (
    DemoProduct("Espresso beans, 1 kg", "Dark roast, whole beans", "24.90", 40, 5, "coffee"),
    DemoProduct("Ceramic mug", "350 ml, dishwasher safe", "12.50", 25, 5, "cups"),
    DemoProduct("Pour-over kettle", "Gooseneck, 1 l, stainless steel", "49.00", 8, 2, "brewing"),
    DemoProduct("Paper filters (100)", "Size 02, unbleached", "5.99", 100, 20, "brewing"),
    DemoProduct("Hand grinder", "Ceramic burrs, 30 g hopper", "39.95", 3, 1, "brewing"),
)


def seed_if_empty(target: str, timeout_s: float, token: str | None = None) -> tuple[bool, list[pb.Product]]:
    """Create the demo products unless the catalogue has any product already, deleted ones included (a
    restart must not duplicate them). Returns whether it seeded, and the catalogue's first page.
    ``token``: a bearer token with scope catalog:write when the Product service requires authentication."""
    metadata: tuple[tuple[str, str], ...] = (
        (correlation.HEADER, f"eshop-up-seed-{correlation.new_id()[:8]}"),
    )
    if token is not None:
        metadata += (("authorization", f"Bearer {token}"),)
    with grpc.insecure_channel(target) as channel:
        stub = pb_grpc.ProductServiceStub(channel)
        first: pb.ListProductsResponse = stub.ListProducts(
            pb.ListProductsRequest(page_size=1, show_deleted=True), timeout=timeout_s, metadata=metadata
        )
        seeded = not first.products
        if seeded:
            for demo in DEMO_CATALOGUE:
                request = pb.CreateProductRequest(
                    name=demo.name,
                    description=demo.description,
                    price=demo.price,
                    stock_quantity=demo.stock,
                    low_stock_threshold=demo.low_stock_threshold,
                    category=demo.category,
                )
                stub.CreateProduct(request, timeout=timeout_s, metadata=metadata)
        page: pb.ListProductsResponse = stub.ListProducts(
            pb.ListProductsRequest(), timeout=timeout_s, metadata=metadata
        )
    return seeded, list(page.products)
