"""A service reachable beyond loopback with authentication off says so at start."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from common.grpc.exposure import is_loopback, warn_if_exposed
from product.settings import ProductSettings
from tests.support.logs import LogLine
from tests.support.servers import start_product


@pytest.mark.parametrize(
    ("address", "loopback"),
    [
        ("127.0.0.1:50051", True),
        ("127.3.2.1:1", True),
        ("localhost:50051", True),
        ("[::1]:50051", True),
        ("0.0.0.0:50051", False),
        ("[::]:50051", False),
        (":50051", False),
        ("10.0.0.5:50051", False),
        ("shop.example:50051", False),
    ],
)
def test_only_loopback_addresses_count_as_local(address: str, loopback: bool) -> None:
    assert is_loopback(address) is loopback


def _settings(tmp_path: Path, **values: object) -> ProductSettings:
    return ProductSettings(database_url=f"sqlite:///{tmp_path}/p.db", **values)  # type: ignore[arg-type]


def test_auth_off_on_loopback_or_auth_required_anywhere_is_quiet(tmp_path: Path) -> None:
    keys = tmp_path / "jwks.json"
    assert not warn_if_exposed(_settings(tmp_path, listen_address="127.0.0.1:0"))
    assert not warn_if_exposed(
        _settings(
            tmp_path,
            listen_address="0.0.0.0:0",
            auth_mode="required",
            auth_jwks_file=keys,
            auth_issuer="https://idp.example",
        )
    )


def test_a_server_listening_on_every_interface_with_auth_off_warns_once_at_start(
    tmp_path: Path, logs: list[LogLine], make_database_url: Callable[[str], str]
) -> None:
    running, _ = start_product(
        ProductSettings(listen_address="0.0.0.0:0", database_url=make_database_url("product"))
    )
    try:
        warnings = [line for line in logs if line.level == "WARNING" and "PRODUCT_AUTH_MODE" in line.message]
        assert len(warnings) == 1
        assert warnings[0].message.startswith("listening on 0.0.0.0:0 with PRODUCT_AUTH_MODE=off")
    finally:
        running.stop(0)
