"""A client behind DNS spreads over replicas added later only if it reconnects (and so re-resolves):
the servers close connections older than ``*_MAX_CONNECTION_AGE_S`` with a GOAWAY, and a client's calls
keep succeeding across it."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import grpc

from common.generated.eshop.product.v1 import product_pb2, product_pb2_grpc
from product.settings import ProductSettings
from tests.support.servers import start_product

Connectivity = grpc.ChannelConnectivity


def test_a_client_reconnects_after_the_connection_age_and_its_calls_keep_succeeding(
    make_database_url: Callable[[str], str],
) -> None:
    settings = ProductSettings(
        listen_address="127.0.0.1:0",
        database_url=make_database_url("product"),
        max_connection_age_s=1,
        max_connection_age_grace_s=1,
    )
    running, _ = start_product(settings)
    states: list[Connectivity] = []
    changed = threading.Condition()

    def record(state: Connectivity) -> None:
        with changed:
            states.append(state)

    channel = grpc.insecure_channel(running.address)
    channel.subscribe(record, try_to_connect=True)
    try:
        stub = product_pb2_grpc.ProductServiceStub(channel)
        calls = 0
        deadline = time.monotonic() + 30
        # Ready once, then away from READY (the server's GOAWAY), then READY again on a new connection.
        while not _reconnected(states):
            assert time.monotonic() < deadline, f"no reconnection within 30 s; states {states}"
            stub.ListProducts(product_pb2.ListProductsRequest(), timeout=10)  # raises if a call fails
            calls += 1
            time.sleep(0.05)  # pacing the calls, not a timing assertion
        stub.ListProducts(product_pb2.ListProductsRequest(), timeout=10)
    finally:
        channel.unsubscribe(record)
        channel.close()
        running.stop(0)
    assert calls > 0


def _reconnected(states: list[Connectivity]) -> bool:
    ready = [i for i, state in enumerate(states) if state is Connectivity.READY]
    return len(ready) >= 2 and any(states[i] is not Connectivity.READY for i in range(ready[0], ready[-1]))
