"""A JWKS fetch that is slow or hanging never holds up or crowds out calls whose key is already known:
hundreds of tokens with made-up kids arriving while the identity provider takes its time are refused
(at once, or after one shared fetch for the few that may wait on it), and a known caller's calls all go
through. The fetch needs none of the threads other work runs on."""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import grpc
import pytest

from common.generated.eshop.product.v1 import product_pb2 as pb
from common.generated.eshop.product.v1 import product_pb2_grpc as pb_grpc
from tests.support.auth import PRODUCT_AUDIENCE, TIMEOUT_S, bearer, start_product_on_jwks
from tests.support.helpers import wait_until
from tests.support.identity_provider import IdentityProvider, serving_jwks
from tests.support.servers import RunningServer
from tests.support.signing import SigningKey, ec_key, jwks, unsigned, valid_claims

FLOOD = 400
BATCH = 10  # made-up kids sent between two calls of the known caller
# The service refetches at most every 5 s: the flood's fetch starts within this of the last one.
FETCH_STARTS_WITHIN_S = 20.0
HANGING_S = 30.0  # longer than the service's whole fetch budget (5 s)


@pytest.fixture
def idp() -> Iterator[IdentityProvider]:
    with serving_jwks() as provider:
        yield provider


@pytest.fixture
def known() -> SigningKey:
    return ec_key("known-1")


@pytest.fixture
def product(
    idp: IdentityProvider, known: SigningKey, make_database_url: Callable[[str], str]
) -> Iterator[RunningServer]:
    idp.document = jwks(known)
    running = start_product_on_jwks(idp.url, make_database_url("product"))
    try:
        yield running
    finally:
        running.stop(0)


def _made_up_kid() -> str:
    """A token naming a key nobody published (its signature never gets looked at)."""
    header = {"alg": "ES256", "typ": "JWT", "kid": f"made-up-{uuid.uuid4()}"}
    return unsigned(header, valid_claims(aud=PRODUCT_AUDIENCE)) + "c2ln"


def _code(call: Callable[[], object]) -> grpc.StatusCode:
    try:
        call()
    except grpc.RpcError as error:
        assert isinstance(error, grpc.Call)
        return error.code()
    return grpc.StatusCode.OK


def _a_fetch_in_flight(stub: pb_grpc.ProductServiceStub, idp: IdentityProvider) -> None:
    """Made-up kids until one starts a fetch (the provider counts the request as it arrives)."""
    before = idp.requests
    request = pb.ListProductsRequest()

    def started() -> bool:
        stub.ListProducts.future(request, timeout=TIMEOUT_S, metadata=bearer(_made_up_kid()))
        return idp.requests > before

    wait_until(started, FETCH_STARTS_WITHIN_S, "a JWKS fetch to start", poll_s=0.2)


@pytest.mark.slow  # waits out the refetch interval (5 s) before the flood
@pytest.mark.parametrize("delay_s", [3.0, HANGING_S], ids=["slow", "hanging"])
def test_a_flood_of_unknown_kids_during_a_slow_fetch_leaves_known_callers_untouched(
    idp: IdentityProvider, known: SigningKey, product: RunningServer, delay_s: float
) -> None:
    with (
        grpc.insecure_channel(f"127.0.0.1:{product.port}") as flood_channel,
        grpc.insecure_channel(f"127.0.0.1:{product.port}") as known_channel,
    ):
        flooding = pb_grpc.ProductServiceStub(flood_channel)
        caller = pb_grpc.ProductServiceStub(known_channel)
        request = pb.ListProductsRequest()

        def known_call() -> grpc.StatusCode:
            token = known.sign(sub="customer-1", aud=PRODUCT_AUDIENCE, jti=str(uuid.uuid4()))
            return _code(lambda: caller.ListProducts(request, timeout=TIMEOUT_S, metadata=bearer(token)))

        assert known_call() is grpc.StatusCode.OK  # the key is known (fetched at start)
        idp.delay_s = delay_s
        _a_fetch_in_flight(flooding, idp)

        flood, known_codes = [], []
        for _ in range(FLOOD // BATCH):
            flood += [
                flooding.ListProducts.future(request, timeout=TIMEOUT_S, metadata=bearer(_made_up_kid()))
                for _ in range(BATCH)
            ]
            known_codes.append(known_call())
        flood_codes = [_code(call.result) for call in flood]

    assert known_codes == [grpc.StatusCode.OK] * len(known_codes)
    assert set(flood_codes) == {grpc.StatusCode.UNAUTHENTICATED}


@pytest.mark.slow  # the rotated key is fetched once the refetch interval (5 s) has passed
def test_a_fetch_needs_none_of_the_threads_other_work_runs_on(
    idp: IdentityProvider, product: RunningServer
) -> None:
    """The server loop's default executor all taken (say, by slow health probes): a token whose key was
    published after start still gets it fetched and verified."""
    loop = product.runner.loop
    busy = ThreadPoolExecutor(max_workers=1)
    release = threading.Event()
    loop.call_soon_threadsafe(loop.set_default_executor, busy)
    taken = asyncio.run_coroutine_threadsafe(asyncio.to_thread(release.wait), loop)
    rotated = ec_key("rotated-1")
    idp.document = jwks(rotated)
    try:
        with grpc.insecure_channel(f"127.0.0.1:{product.port}") as channel:
            stub = pb_grpc.ProductServiceStub(channel)
            token = bearer(rotated.sign(sub="customer-1", aud=PRODUCT_AUDIENCE))

            def verified() -> bool:
                call = lambda: stub.ListProducts(pb.ListProductsRequest(), timeout=2, metadata=token)  # noqa: E731
                return _code(call) is grpc.StatusCode.OK

            wait_until(verified, FETCH_STARTS_WITHIN_S, "the rotated key fetched and the call let through")
    finally:
        release.set()
        taken.result(TIMEOUT_S)  # ``busy`` stays the loop's default executor: the loop's end shuts it
