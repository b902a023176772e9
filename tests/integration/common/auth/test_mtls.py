"""Client-certificate identities as a real gRPC server sees them, in the sync and the aio server alike."""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import Callable, Iterator
from concurrent import futures
from dataclasses import dataclass
from typing import Any

import grpc
import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

from common.auth.mtls import peer_identities
from tests.support.certificates import issue_certificate

METHOD = "/test.Identity/Who"


@dataclass(frozen=True)
class Credentials:
    ca: bytes
    server: tuple[bytes, bytes]  # key, chain
    clients: dict[str, tuple[bytes, bytes]]


@pytest.fixture(scope="module")
def credentials() -> Credentials:
    ca_key = ec.generate_private_key(ec.SECP256R1())
    _, ca = issue_certificate("test CA", [], ca_key, ca=True)
    server = issue_certificate(
        "localhost", [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))], ca_key
    )
    order = issue_certificate(
        "order",
        [x509.UniformResourceIdentifier("spiffe://eshop/order"), x509.DNSName("order.internal")],
        ca_key,
    )
    legacy = issue_certificate("legacy-client", [], ca_key)
    return Credentials(ca, server, {"order": order, "legacy": legacy})


def _who(request: bytes, context: Any) -> bytes:
    return ",".join(sorted(peer_identities(context.auth_context()))).encode()


async def _who_async(request: bytes, context: Any) -> bytes:
    return _who(request, context)


def _server_credentials(credentials: Credentials) -> grpc.ServerCredentials:
    return grpc.ssl_server_credentials(
        [credentials.server], root_certificates=credentials.ca, require_client_auth=True
    )


def _ask(port: int, credentials: Credentials, client: str) -> str:
    key, chain = credentials.clients[client]
    channel_credentials = grpc.ssl_channel_credentials(credentials.ca, key, chain)
    with grpc.secure_channel(f"localhost:{port}", channel_credentials) as channel:
        answer: bytes = channel.unary_unary(METHOD)(b"", timeout=10)
    return answer.decode()


EXPECTED = {"order": "order.internal,spiffe://eshop/order", "legacy": "legacy-client"}


@pytest.fixture
def sync_port(credentials: Credentials) -> Iterator[int]:
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    handler = grpc.unary_unary_rpc_method_handler(_who)
    server.add_generic_rpc_handlers([grpc.method_handlers_generic_handler("test.Identity", {"Who": handler})])
    port = server.add_secure_port("127.0.0.1:0", _server_credentials(credentials))
    server.start()
    yield port
    server.stop(0)


@pytest.mark.parametrize("client", list(EXPECTED))
def test_the_sync_server_sees_the_certificate_identities(
    sync_port: int, credentials: Credentials, client: str
) -> None:
    assert _ask(sync_port, credentials, client) == EXPECTED[client]


@pytest.mark.parametrize("client", list(EXPECTED))
def test_the_aio_server_sees_the_same_identities(credentials: Credentials, client: str) -> None:
    async def scenario(ask: Callable[[int], str]) -> str:
        server = grpc.aio.server()
        handler = grpc.unary_unary_rpc_method_handler(_who_async)
        server.add_generic_rpc_handlers(
            [grpc.method_handlers_generic_handler("test.Identity", {"Who": handler})]
        )
        port = server.add_secure_port("127.0.0.1:0", _server_credentials(credentials))
        await server.start()
        try:
            return await asyncio.to_thread(ask, port)
        finally:
            await server.stop(0)

    assert asyncio.run(scenario(lambda port: _ask(port, credentials, client))) == EXPECTED[client]


def test_a_plain_connection_has_no_identities() -> None:
    assert peer_identities({"transport_security_type": [b"insecure"]}) == frozenset()
