"""Authentication in tests: bearer metadata, tokens signed with the key the services trust, the settings
that require it, and both services started that way (``AuthedServices``)."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc

from common.generated.eshop.order.v1 import order_pb2 as order_pb
from common.generated.eshop.order.v1 import order_pb2_grpc as order_grpc
from common.generated.eshop.product.v1 import product_pb2 as product_pb
from common.generated.eshop.product.v1 import product_pb2_grpc as product_grpc
from product.settings import ProductSettings
from tests.support.servers import RunningServer, start_product
from tests.support.signing import ISSUER, SigningKey

PRODUCT_AUDIENCE = "eshop-product"
ORDER_AUDIENCE = "eshop-order"
BOTH = [PRODUCT_AUDIENCE, ORDER_AUDIENCE]
TIMEOUT_S = 10
Metadata = tuple[tuple[str, str], ...]


def bearer(token: str) -> Metadata:
    return (("authorization", f"Bearer {token}"),)


@dataclass(frozen=True)
class Minter:
    """Tokens signed with the key the services trust."""

    key: SigningKey

    def token(self, subject: str, *scopes: str, audience: str | list[str] = BOTH, **claims: Any) -> str:
        return self.key.sign(sub=subject, scope=" ".join(scopes) or None, aud=audience, **claims)

    def customer(self, customer_id: str) -> Metadata:
        return bearer(self.token(customer_id))

    def staff(self, *scopes: str) -> Metadata:
        return bearer(self.token("staff-1", *scopes))


def write_service_token(path: Path, minter: Minter) -> Path:
    """The Order service's own token: scope stock:reserve, for the Product service only."""
    path.write_text(minter.token("order-service", "stock:reserve", audience=PRODUCT_AUDIENCE) + "\n")
    return path


def auth_settings(jwks_file: Path) -> dict[str, Any]:
    return {"auth_mode": "required", "auth_jwks_file": jwks_file, "auth_issuer": ISSUER}


def start_product_on_jwks(jwks_url: str, database_url: str) -> RunningServer:
    """A Product service that requires tokens and fetches its keys from ``jwks_url``; the caller stops it."""
    running, _ = start_product(
        ProductSettings(
            listen_address="127.0.0.1:0",
            database_url=database_url,
            auth_mode="required",
            auth_jwks_url=jwks_url,
            auth_issuer=ISSUER,
            shutdown_grace_s=0,
        )
    )
    return running


@dataclass
class AuthedServices:
    product_server: RunningServer
    order_server: RunningServer
    product_db_url: str
    order_db_url: str
    minter: Minter
    _channels: list[grpc.Channel] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._channels = [
            grpc.insecure_channel(f"127.0.0.1:{self.product_server.port}"),
            grpc.insecure_channel(f"127.0.0.1:{self.order_server.port}"),
        ]
        self.product = product_grpc.ProductServiceStub(self._channels[0])
        self.order = order_grpc.OrderServiceStub(self._channels[1])

    def close(self) -> None:
        for channel in self._channels:
            channel.close()

    # Data made with the right credentials, for the cases that need something to act on.

    def new_product(self, stock: int = 1000) -> str:
        product: product_pb.Product = self.product.CreateProduct(
            product_pb.CreateProductRequest(name="Mug", price="9.50", stock_quantity=stock),
            timeout=TIMEOUT_S,
            metadata=self.minter.staff("catalog:write"),
        )
        return product.product_id

    def new_order(self, customer_id: str, product_id: str, quantity: int = 1) -> order_pb.Order:
        order: order_pb.Order = self.order.CreateOrder(
            order_pb.CreateOrderRequest(
                customer_id=customer_id, items=[order_pb.OrderLine(product_id=product_id, quantity=quantity)]
            ),
            timeout=TIMEOUT_S,
            metadata=self.minter.customer(customer_id),
        )
        return order


def new_customer() -> str:
    return str(uuid.uuid4())


def expired_claims() -> dict[str, int]:
    now = int(time.time())
    return {"iat": now - 7200, "exp": now - 3600}
