"""Both services with authentication required, trusting a key made here.

One pair of servers per module (the tables run a hundred calls; each case makes the data it changes).
Tokens are minted with ``tests.support.signing``; the Order service presents a ``stock:reserve`` token of
its own from ``ORDER_PRODUCT_TOKEN_FILE``."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from order.settings import OrderSettings
from product.settings import ProductSettings
from tests.support.auth import (
    AuthedServices,
    Minter,
    auth_settings,
    write_service_token,
)
from tests.support.backend import backend
from tests.support.servers import start_order, start_product
from tests.support.signing import SigningKey, ec_key, jwks


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
