"""Both services with authentication required, trusting a key made here.

One pair of servers per module (the tables run a hundred calls; each case makes the data it changes).
Tokens are minted with ``tests.support.signing``; the Order service presents a ``stock:reserve`` token of
its own from ``ORDER_PRODUCT_TOKEN_FILE``.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import pytest

from common.generated.eshop.order.v1 import order_pb2 as order_pb
from common.generated.eshop.order.v1 import order_pb2_grpc as order_grpc
from common.generated.eshop.product.v1 import product_pb2 as product_pb
from common.generated.eshop.product.v1 import product_pb2_grpc as product_grpc
from order.settings import OrderSettings
from product.settings import ProductSettings
from tests.conftest import backend
from tests.support.servers import RunningServer, start_order, start_product
from tests.support.signing import ISSUER, SigningKey, ec_key, jwks

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


@pytest.fixture(scope="module")
def trusted_key() -> SigningKey:
    return ec_key("trusted-1")


@pytest.fixture(scope="module")
def minter(trusted_key: SigningKey) -> Minter:
    return Minter(trusted_key)


@pytest.fixture(scope="module")
def module_database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Callable[[str], str]:
    """Like ``make_database_url``, for servers that live as long as their module."""
    if backend() == "postgres":
        create: Callable[[str], str] = request.getfixturevalue("postgres_server").create_database
        return create
    directory = tmp_path_factory.mktemp("auth-db")
    return lambda name: f"sqlite:///{directory / name}.db"


@pytest.fixture(scope="module")
def jwks_file(tmp_path_factory: pytest.TempPathFactory, trusted_key: SigningKey) -> Path:
    path = tmp_path_factory.mktemp("auth-keys") / "jwks.json"
    path.write_text(json.dumps(jwks(trusted_key)))
    return path


def write_service_token(path: Path, minter: Minter) -> Path:
    """The Order service's own token: scope stock:reserve, for the Product service only."""
    path.write_text(minter.token("order-service", "stock:reserve", audience=PRODUCT_AUDIENCE) + "\n")
    return path


def auth_settings(jwks_file: Path) -> dict[str, Any]:
    return {"auth_mode": "required", "auth_jwks_file": jwks_file, "auth_issuer": ISSUER}


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


@pytest.fixture(scope="module")
def authed(
    module_database_url: Callable[[str], str],
    jwks_file: Path,
    minter: Minter,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[AuthedServices]:
    product_db, order_db = module_database_url("product"), module_database_url("order")
    product, _ = start_product(
        ProductSettings(listen_address="127.0.0.1:0", database_url=product_db, **auth_settings(jwks_file))
    )
    try:
        token_file = write_service_token(tmp_path_factory.mktemp("order-token") / "token", minter)
        order, _ = start_order(
            OrderSettings(
                listen_address="127.0.0.1:0",
                database_url=order_db,
                product_service_target=f"127.0.0.1:{product.port}",
                product_token_file=token_file,
                **auth_settings(jwks_file),
            )
        )
    except BaseException:
        product.stop(0)
        raise
    services = AuthedServices(product, order, product_db, order_db, minter)
    try:
        yield services
    finally:
        services.close()
        order.stop(0)
        product.stop(0)


def new_customer() -> str:
    return str(uuid.uuid4())


def expired_claims() -> dict[str, int]:
    now = int(time.time())
    return {"iat": now - 7200, "exp": now - 3600}
