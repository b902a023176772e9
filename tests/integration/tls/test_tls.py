"""Both services over TLS, and mutual TLS to the Product service, with certificates made here."""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from common.generated.eshop.order.v1 import order_pb2, order_pb2_grpc
from common.generated.eshop.product.v1 import product_pb2, product_pb2_grpc
from order.settings import OrderSettings
from product.settings import ProductSettings
from tests.support.cli import cli_env, run_eshop
from tests.support.servers import start_order, start_product


@dataclass(frozen=True)
class Pki:
    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _issue(
    subject: str, issuer_key: ec.EllipticCurvePrivateKey, issuer: str, *, ca: bool, server: bool
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1()) if not ca else issuer_key
    now = dt.datetime.now(dt.timezone.utc)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(_name(issuer))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=1))
        .not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if server:
        builder = builder.add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
    return builder.sign(issuer_key, hashes.SHA256()), key


def _write(path: Path, cert: x509.Certificate, key: ec.EllipticCurvePrivateKey | None = None) -> Path:
    path.with_suffix(".crt").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    if key is not None:
        path.with_suffix(".key").write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
    return path.with_suffix(".crt")


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    d = tmp_path_factory.mktemp("pki")
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_cert, _ = _issue("eshop test CA", ca_key, "eshop test CA", ca=True, server=False)
    server_cert, server_key = _issue("localhost", ca_key, "eshop test CA", ca=False, server=True)
    client_cert, client_key = _issue("order-service", ca_key, "eshop test CA", ca=False, server=False)
    return Pki(
        ca=_write(d / "ca", ca_cert),
        server_cert=_write(d / "server", server_cert, server_key),
        server_key=d / "server.key",
        client_cert=_write(d / "client", client_cert, client_key),
        client_key=d / "client.key",
    )


@pytest.fixture
def tls_pair(pki: Pki, make_database_url: Callable[[str], str]) -> Iterator[tuple[int, int]]:
    product, _ = start_product(
        ProductSettings(
            listen_address="127.0.0.1:0",
            database_url=make_database_url("product"),
            tls_cert_file=pki.server_cert,
            tls_key_file=pki.server_key,
            tls_client_ca_file=pki.ca,  # mutual TLS: the Order service must show its certificate
        )
    )
    order, _ = start_order(
        OrderSettings(
            listen_address="127.0.0.1:0",
            database_url=make_database_url("order"),
            product_service_target=f"127.0.0.1:{product.port}",
            product_tls_ca_file=pki.ca,
            product_tls_cert_file=pki.client_cert,
            product_tls_key_file=pki.client_key,
            tls_cert_file=pki.server_cert,
            tls_key_file=pki.server_key,
        )
    )
    yield product.port, order.port
    order.stop(0)
    product.stop(0)


def _secure(port: int, pki: Pki, *, with_client_cert: bool) -> grpc.Channel:
    credentials = grpc.ssl_channel_credentials(
        root_certificates=pki.ca.read_bytes(),
        private_key=pki.client_key.read_bytes() if with_client_cert else None,
        certificate_chain=pki.client_cert.read_bytes() if with_client_cert else None,
    )
    return grpc.secure_channel(f"localhost:{port}", credentials)


def test_order_over_tls_reserves_over_mutual_tls(tls_pair: tuple[int, int], pki: Pki) -> None:
    product_port, order_port = tls_pair
    with _secure(product_port, pki, with_client_cert=True) as channel:
        product = product_pb2_grpc.ProductServiceStub(channel).CreateProduct(
            product_pb2.CreateProductRequest(name="Kettle", price="30.00", stock_quantity=5), timeout=10
        )
    with _secure(order_port, pki, with_client_cert=False) as channel:
        order = order_pb2_grpc.OrderServiceStub(channel).CreateOrder(
            order_pb2.CreateOrderRequest(
                customer_id=str(uuid.uuid4()),
                items=[order_pb2.OrderLine(product_id=product.product_id, quantity=2)],
            ),
            timeout=10,
        )
    assert order.status == order_pb2.ORDER_STATUS_CONFIRMED
    assert order.total_amount == "60.00"


def test_product_refuses_plaintext_and_clients_without_a_certificate(
    tls_pair: tuple[int, int], pki: Pki
) -> None:
    product_port, _ = tls_pair
    request = product_pb2.ListProductsRequest()
    with (
        grpc.insecure_channel(f"127.0.0.1:{product_port}") as channel,
        pytest.raises(grpc.RpcError) as plaintext,
    ):
        product_pb2_grpc.ProductServiceStub(channel).ListProducts(request, timeout=5)
    assert plaintext.value.code() is grpc.StatusCode.UNAVAILABLE
    with (
        _secure(product_port, pki, with_client_cert=False) as channel,
        pytest.raises(grpc.RpcError) as no_cert,
    ):
        product_pb2_grpc.ProductServiceStub(channel).ListProducts(request, timeout=5)
    assert no_cert.value.code() is grpc.StatusCode.UNAVAILABLE


def test_the_cli_talks_tls_to_both_services(tls_pair: tuple[int, int], pki: Pki) -> None:
    product_port, order_port = tls_pair
    addresses = (
        "--product-address",
        f"127.0.0.1:{product_port}",
        "--order-address",
        f"127.0.0.1:{order_port}",
    )
    # Options: the Product service requires a client certificate (mutual TLS); the certificates name
    # "localhost", the address is 127.0.0.1.
    options = (
        "--ca-file", str(pki.ca), "--cert-file", str(pki.client_cert), "--key-file", str(pki.client_key),
        "--server-name", "localhost",
    )  # fmt: skip
    health = run_eshop(*addresses, *options, "--timeout", "5", "health", "--json")
    assert health.returncode == 0, health.stderr
    assert {s["status"] for s in json.loads(health.stdout).values()} == {"SERVING"}

    # The same from ESHOP_CLI_TLS_* variables, for a client command.
    variables = {
        "ESHOP_CLI_TLS_CA_FILE": str(pki.ca),
        "ESHOP_CLI_TLS_CERT_FILE": str(pki.client_cert),
        "ESHOP_CLI_TLS_KEY_FILE": str(pki.client_key),
        "ESHOP_CLI_TLS_SERVER_NAME": "localhost",
    }
    listed = run_eshop(*addresses, "--timeout", "5", "products", "list", "--json", env=cli_env(**variables))
    assert listed.returncode == 0, listed.stderr

    # Without TLS options the CLI speaks plaintext, which a TLS server refuses.
    plain = run_eshop(*addresses, "--timeout", "3", "health", "--service", "order")
    assert plain.returncode == 1


def test_the_cli_refuses_a_certificate_without_its_key() -> None:
    result = run_eshop("--cert-file", "/dev/null", "health")

    assert result.returncode == 2
    assert "--cert-file and --key-file" in result.stderr
