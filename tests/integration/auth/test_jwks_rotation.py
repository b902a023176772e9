"""The Product service verifying against an identity provider's JWKS URL: a rotated key (a new ``kid``)
is picked up without a restart; a kid the provider never published stays refused."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import grpc
import pytest

from common.generated.eshop.product.v1 import product_pb2 as pb
from common.generated.eshop.product.v1 import product_pb2_grpc as pb_grpc
from tests.support.auth import PRODUCT_AUDIENCE, TIMEOUT_S, bearer, start_product_on_jwks
from tests.support.helpers import wait_until
from tests.support.identity_provider import IdentityProvider, serving_jwks
from tests.support.signing import SigningKey, ec_key, jwks, rsa_key

# The service re-fetches at most every 5 s (a flood of made-up kids must not hammer the provider).
PICKUP_DEADLINE_S = 20.0


@pytest.fixture
def idp() -> Iterator[IdentityProvider]:
    with serving_jwks() as provider:
        yield provider


@pytest.fixture
def product(
    idp: IdentityProvider, make_database_url: Callable[[str], str]
) -> Iterator[pb_grpc.ProductServiceStub]:
    idp.document = jwks(ec_key("at-start"))  # a provider serving no usable key stops the start
    running = start_product_on_jwks(idp.url, make_database_url("product"))
    try:
        with grpc.insecure_channel(f"127.0.0.1:{running.port}") as channel:
            yield pb_grpc.ProductServiceStub(channel)
    finally:
        running.stop(0)


def _list(stub: pb_grpc.ProductServiceStub, key: SigningKey) -> grpc.StatusCode:
    token = key.sign(sub="customer-1", aud=PRODUCT_AUDIENCE)
    try:
        stub.ListProducts(pb.ListProductsRequest(), timeout=TIMEOUT_S, metadata=bearer(token))
    except grpc.RpcError as error:
        assert isinstance(error, grpc.Call)
        return error.code()
    return grpc.StatusCode.OK


def test_a_rotated_key_is_picked_up_without_a_restart(
    idp: IdentityProvider, product: pb_grpc.ProductServiceStub
) -> None:
    old, new = ec_key("2026-11-a"), rsa_key("2026-11-b")
    idp.document = jwks(old)
    wait_until(
        lambda: _list(product, old) is grpc.StatusCode.OK, PICKUP_DEADLINE_S, "the first key picked up"
    )
    fetched = idp.requests

    idp.document = jwks(new)  # the provider rotates: the old key is withdrawn, a new kid is published
    wait_until(lambda: _list(product, new) is grpc.StatusCode.OK, PICKUP_DEADLINE_S, "the new key picked up")

    assert idp.requests > fetched
    assert _list(product, ec_key("never-published")) is grpc.StatusCode.UNAUTHENTICATED


def test_a_provider_that_is_down_locks_callers_out_with_unauthenticated_not_internal(
    idp: IdentityProvider, product: pb_grpc.ProductServiceStub
) -> None:
    idp.status = 503

    assert _list(product, ec_key("any")) is grpc.StatusCode.UNAUTHENTICATED
