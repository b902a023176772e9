"""A service verifying against a JWKS URL leaves no thread behind when it stops: a key fetch in flight is
waited for (within its timeout), and none starts after the stop."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable

import grpc

from common.generated.eshop.product.v1 import product_pb2 as pb
from common.generated.eshop.product.v1 import product_pb2_grpc as pb_grpc
from tests.support.auth import PRODUCT_AUDIENCE, bearer, start_product_on_jwks
from tests.support.helpers import wait_until
from tests.support.identity_provider import serving_jwks
from tests.support.signing import ec_key, jwks, unsigned, valid_claims

# Not the service's: the identity provider's threads, and the test client's (grpc starts one poller
# thread per process with its first channel, for good).
NOT_THE_SERVICES = {"serve_forever", "process_request_thread", "_poll_wrapper"}


def _target(thread: threading.Thread) -> str:
    """What a thread runs, from the name ``threading`` gives it: ``Thread-3 (serve_forever)``."""
    return thread.name.rsplit("(", 1)[-1].rstrip(")")


def _made_up_kid() -> str:
    header = {"alg": "ES256", "typ": "JWT", "kid": f"made-up-{uuid.uuid4()}"}
    return unsigned(header, valid_claims(aud=PRODUCT_AUDIENCE)) + "c2ln"


def test_no_thread_is_left_once_a_service_with_a_jwks_url_stops(
    make_database_url: Callable[[str], str],
) -> None:
    before = set(threading.enumerate())
    with serving_jwks() as idp:
        idp.status = 503  # at start: only a WARNING, and the first token may fetch at once
        running = start_product_on_jwks(idp.url, make_database_url("product"))
        try:
            idp.status, idp.document, idp.delay_s = 200, jwks(ec_key("later")), 2.0
            asked = idp.requests
            with grpc.insecure_channel(f"127.0.0.1:{running.port}") as channel:
                stub = pb_grpc.ProductServiceStub(channel)
                call = stub.ListProducts.future(
                    pb.ListProductsRequest(), timeout=10, metadata=bearer(_made_up_kid())
                )
                wait_until(lambda: idp.requests > asked, 10, "a key fetch to start")
        finally:
            running.stop(0)
        call.cancel()

        # Still inside the provider's block, which is still answering that fetch.
        left = [
            t.name for t in threading.enumerate() if t not in before and _target(t) not in NOT_THE_SERVICES
        ]
        assert left == []
