"""Mutual TLS identities in the policy: the Order service with its client certificate may
reserve stock without a token; another valid certificate of the same CA may not."""

from __future__ import annotations

import ipaddress
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

from common.generated.eshop.order.v1 import order_pb2 as order_pb
from common.generated.eshop.order.v1 import order_pb2_grpc as order_grpc
from common.generated.eshop.product.v1 import product_pb2 as product_pb
from common.generated.eshop.product.v1 import product_pb2_grpc as product_grpc
from order.settings import OrderSettings
from product.settings import ProductSettings
from tests.support.auth import TIMEOUT_S, Minter, auth_settings
from tests.support.certificates import issue_certificate
from tests.support.servers import start_order, start_product

ORDER_IDENTITY = "spiffe://eshop/order"


@dataclass(frozen=True)
class Pki:
    ca: Path
    server: tuple[Path, Path]  # key, certificate
    clients: dict[str, tuple[Path, Path]]


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    directory = tmp_path_factory.mktemp("pki")
    ca_key = ec.generate_private_key(ec.SECP256R1())
    _, ca = issue_certificate("test CA", [], ca_key, ca=True)  # the issuer name it signs with
    (directory / "ca.crt").write_bytes(ca)
    issued = {
        "server": issue_certificate(
            "localhost",
            [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))],
            ca_key,
        ),
        "order": issue_certificate("order", [x509.UniformResourceIdentifier(ORDER_IDENTITY)], ca_key),
        "intruder": issue_certificate(
            "intruder", [x509.UniformResourceIdentifier("spiffe://eshop/intruder")], ca_key
        ),
    }
    paths = {}
    for name, (key, cert) in issued.items():
        (directory / f"{name}.key").write_bytes(key)
        (directory / f"{name}.crt").write_bytes(cert)
        paths[name] = (directory / f"{name}.key", directory / f"{name}.crt")
    return Pki(directory / "ca.crt", paths.pop("server"), paths)


@dataclass(frozen=True)
class Pair:
    product_port: int
    order_port: int


@pytest.fixture
def pair(pki: Pki, jwks_file: Path, make_database_url: Callable[[str], str]) -> Iterator[Pair]:
    product, _ = start_product(
        ProductSettings(
            listen_address="127.0.0.1:0",
            database_url=make_database_url("product"),
            tls_key_file=pki.server[0],
            tls_cert_file=pki.server[1],
            tls_client_ca_file=pki.ca,
            auth_stock_client_ids=frozenset({ORDER_IDENTITY}),
            **auth_settings(jwks_file),
        )
    )
    try:
        order, _ = start_order(
            OrderSettings(
                listen_address="127.0.0.1:0",
                database_url=make_database_url("order"),
                product_service_target=f"127.0.0.1:{product.port}",
                product_tls_ca_file=pki.ca,
                product_tls_key_file=pki.clients["order"][0],
                product_tls_cert_file=pki.clients["order"][1],
                **auth_settings(jwks_file),  # no token file: the certificate is its identity
            )
        )
    except BaseException:
        product.stop(0)
        raise
    try:
        yield Pair(product.port, order.port)
    finally:
        order.stop(0)
        product.stop(0)


def _product_channel(pki: Pki, port: int, client: str) -> grpc.Channel:
    key, cert = pki.clients[client]
    credentials = grpc.ssl_channel_credentials(pki.ca.read_bytes(), key.read_bytes(), cert.read_bytes())
    return grpc.secure_channel(f"127.0.0.1:{port}", credentials)


def _new_product(pki: Pki, pair: Pair, minter: Minter) -> str:
    with _product_channel(pki, pair.product_port, "intruder") as channel:  # any client certificate connects
        product: product_pb.Product = product_grpc.ProductServiceStub(channel).CreateProduct(
            product_pb.CreateProductRequest(name="Kettle", price="30.00", stock_quantity=5),
            timeout=TIMEOUT_S,
            metadata=minter.staff("catalog:write"),
        )
    return product.product_id


def test_the_order_service_with_its_certificate_reserves(pki: Pki, pair: Pair, minter: Minter) -> None:
    product_id = _new_product(pki, pair, minter)
    customer = str(uuid.uuid4())

    with grpc.insecure_channel(f"127.0.0.1:{pair.order_port}") as channel:
        order: order_pb.Order = order_grpc.OrderServiceStub(channel).CreateOrder(
            order_pb.CreateOrderRequest(
                customer_id=customer, items=[order_pb.OrderLine(product_id=product_id, quantity=2)]
            ),
            timeout=TIMEOUT_S,
            metadata=minter.customer(customer),
        )

    assert order.status == order_pb.ORDER_STATUS_CONFIRMED


@pytest.mark.parametrize(
    ("client", "expected"), [("order", grpc.StatusCode.OK), ("intruder", grpc.StatusCode.PERMISSION_DENIED)]
)
def test_only_the_order_services_certificate_may_reserve(
    pki: Pki, pair: Pair, minter: Minter, client: str, expected: grpc.StatusCode
) -> None:
    product_id = _new_product(pki, pair, minter)
    request = product_pb.ReserveStockRequest(
        order_id=str(uuid.uuid4()), items=[product_pb.StockItem(product_id=product_id, quantity=1)]
    )

    with _product_channel(pki, pair.product_port, client) as channel:
        try:
            product_grpc.ProductServiceStub(channel).ReserveStock(request, timeout=TIMEOUT_S)
            status = grpc.StatusCode.OK
        except grpc.RpcError as error:
            assert isinstance(error, grpc.Call)
            status = error.code()

    assert status is expected
