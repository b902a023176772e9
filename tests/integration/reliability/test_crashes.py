"""SIGKILL a service while orders pour in, bring it back: callers get honest answers in time, and once
the outbox worker and the reconciler have done their work no stock is lost or created."""

from __future__ import annotations

import time

import grpc
import pytest

from tests.support.faults import (
    CALL_TIMEOUT_S,
    OUTAGE_CODES,
    Load,
    assert_outage_outcomes,
    create_order,
)
from tests.support.helpers import create_product, wait_until
from tests.support.invariant import assert_stock_conserved, wait_for_quiescence
from tests.support.processes import ServiceProcess, Services

STOCK = {"hot": 40, "plenty": 5000}
QUIESCENCE_TIMEOUT_S = 60.0


def _products(services: Services) -> dict[str, int]:
    stub = services.product_stub()
    return {create_product(stub, stock=stock).product_id: stock for stock in STOCK.values()}


def _outage_under_load(services: Services, victim: ServiceProcess, product_ids: list[str]) -> Load:
    """~1 s of load, SIGKILL, 2 s down, restart (SERVING again), then ~1 s more load on the recovered
    system; returns the stopped load."""
    load = Load(services.order_stub(), product_ids, threads=4).start()
    try:
        _wait_for_calls(load, 10)
        victim.kill()
        time.sleep(2.0)  # the outage itself, not a wait for a result
        victim.start()
        done = len(load.outcomes)
        _wait_for_calls(load, done + 10)
    finally:
        load.stop()
    return load


def _accepts_orders(services: Services, product_id: str) -> bool:
    try:
        create_order(services.order_stub(), [(product_id, 1)])
    except grpc.RpcError as error:
        assert error.code() in OUTAGE_CODES, error
        return False
    return True


def _assert_recovered_and_conserved(services: Services, initial: dict[str, int]) -> None:
    plenty = next(p for p, stock in initial.items() if stock == STOCK["plenty"])
    wait_until(lambda: _accepts_orders(services, plenty), QUIESCENCE_TIMEOUT_S, "orders to go through again")
    wait_for_quiescence(services.order_db, timeout_s=QUIESCENCE_TIMEOUT_S)
    assert_stock_conserved(services.product_db, services.order_db, initial)


def _wait_for_calls(load: Load, count: int) -> None:
    wait_until(lambda: len(load.outcomes) >= count, 3 * CALL_TIMEOUT_S, f"{count} calls to complete")


@pytest.mark.slow
def test_product_service_killed_under_load(services: Services) -> None:
    initial = _products(services)

    load = _outage_under_load(services, services.product, list(initial))

    assert_outage_outcomes(load.outcomes)
    assert services.product.starts == 2
    _assert_recovered_and_conserved(services, initial)


@pytest.mark.slow
def test_order_service_killed_under_load(services: Services) -> None:
    initial = _products(services)

    load = _outage_under_load(services, services.order, list(initial))

    assert_outage_outcomes(load.outcomes)
    assert grpc.StatusCode.UNAVAILABLE in {o.code for o in load.outcomes}, "the kill went unnoticed"
    # Orders the kill left PENDING are resolved by the restarted service's reconciler.
    _assert_recovered_and_conserved(services, initial)
