"""Authentication settings that work but are surely a mistake are said once, as a WARNING, at start:
authentication left off although keys and an issuer are configured, a JWKS fetched over plain http from
another host, certificate identities allowed to move stock where no certificate is ever verified."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from loguru import logger

from common.grpc.auth_warnings import auth_setting_warnings
from order.settings import OrderSettings
from product.server import stock_client_warnings
from product.settings import ProductSettings
from tests.support.servers import start_product
from tests.support.signing import ISSUER


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith(("PRODUCT_", "ORDER_")):
            monkeypatch.delenv(name)


def test_auth_mode_unset_while_keys_and_an_issuer_are_configured(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ORDER_AUTH_JWKS_URL", "https://idp.example/jwks")
    monkeypatch.setenv("ORDER_AUTH_ISSUER", "https://idp.example/")

    [warning] = auth_setting_warnings(OrderSettings())

    assert warning.startswith(
        "ORDER_AUTH_MODE is not set, so authentication is off although ORDER_AUTH_JWKS_URL and "
        "ORDER_AUTH_ISSUER are"
    )
    monkeypatch.setenv("ORDER_AUTH_MODE", "off")  # said on purpose: quiet
    assert auth_setting_warnings(OrderSettings()) == []


@pytest.mark.parametrize(
    ("url", "warned"),
    [
        ("http://idp.example/jwks", True),
        ("http://10.1.2.3:8080/jwks", True),
        ("https://idp.example/jwks", False),
        ("http://127.0.0.1:8080/jwks", False),
        ("http://localhost/jwks", False),
        ("http://[::1]:8080/jwks", False),
    ],
)
def test_a_plain_http_jwks_beyond_this_machine(url: str, warned: bool) -> None:
    settings = ProductSettings(auth_mode="required", auth_jwks_url=url, auth_issuer=ISSUER)

    warnings = auth_setting_warnings(settings)

    assert warnings == (
        [
            "PRODUCT_AUTH_JWKS_URL is plain http:// to another host: anyone on the path can swap the "
            "signing keys and sign tokens of their own (use https://)"
        ]
        if warned
        else []
    )


def test_stock_client_ids_without_a_client_ca(tmp_path: Path) -> None:
    ids = frozenset({"spiffe://eshop/order"})

    [warning] = stock_client_warnings(ProductSettings(auth_stock_client_ids=ids))

    assert warning.startswith("PRODUCT_AUTH_STOCK_CLIENT_IDS is set but PRODUCT_TLS_CLIENT_CA_FILE is not")
    with_ca = ProductSettings(
        auth_stock_client_ids=ids,
        tls_cert_file=tmp_path / "c",
        tls_key_file=tmp_path / "k",
        tls_client_ca_file=tmp_path / "ca",
    )
    assert stock_client_warnings(with_ca) == []


def test_a_sound_setup_is_quiet() -> None:
    settings = ProductSettings(
        auth_mode="required", auth_jwks_url="https://idp.example/j", auth_issuer=ISSUER
    )
    assert auth_setting_warnings(settings) == []
    assert auth_setting_warnings(ProductSettings()) == []  # nothing configured: nothing mistaken


@pytest.fixture
def warned() -> Iterator[list[str]]:
    lines: list[str] = []
    sink = logger.add(lambda message: lines.append(message.record["message"]), level="WARNING")
    try:
        yield lines
    finally:
        logger.remove(sink)


def test_the_product_service_says_each_at_start(
    warned: list[str], make_database_url: Callable[[str], str]
) -> None:
    running, _ = start_product(
        ProductSettings(
            listen_address="127.0.0.1:0",
            metrics_address="",  # the environment's is cleared above: never the default, maybe taken
            database_url=make_database_url("product"),
            auth_jwks_url="https://idp.example/jwks",  # never fetched: authentication is off
            auth_issuer=ISSUER,
            auth_stock_client_ids=frozenset({"spiffe://eshop/order"}),
        )
    )
    running.stop(0)

    assert [w for w in warned if w.startswith("PRODUCT_AUTH_MODE is not set")], warned
    assert [w for w in warned if w.startswith("PRODUCT_AUTH_STOCK_CLIENT_IDS is set")], warned
