"""Where the CLI dials a service from the address that service listens on."""

from __future__ import annotations

import pytest

from eshop_cli.session import connectable


@pytest.mark.parametrize(
    ("listen_address", "target"),
    [
        ("127.0.0.1:50051", "127.0.0.1:50051"),
        ("0.0.0.0:50051", "127.0.0.1:50051"),
        ("[::]:50052", "[::1]:50052"),
        (":50051", "127.0.0.1:50051"),
        ("[::1]:50051", "[::1]:50051"),
        ("shop.example:50051", "shop.example:50051"),
        ("no-port", "no-port"),  # gRPC says what is wrong with it
    ],
)
def test_a_server_on_every_interface_is_dialled_on_loopback(listen_address: str, target: str) -> None:
    assert connectable(listen_address) == target
