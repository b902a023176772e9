"""A real Prometheus (a private instance, tests/support/prometheus_server.py) scrapes both services every
second and evaluates the shipped rules (deploy/prometheus/rules.yml) while a known sequence of calls runs, the
first of them a rejection. Then: every counter was stored from 0, increase() counts the first event,
every recording rule reads what the sequence implies, and every query of the Grafana dashboard
(deploy/grafana/eshop.json) parses and returns data.

Slow (about 20 s) and about neither the interpreter nor the database: it runs once, under py311.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import grpc
import pytest

from common.generated.eshop.order.v1 import order_pb2
from common.generated.eshop.order.v1 import order_pb2_grpc as order_grpc
from common.generated.eshop.product.v1 import product_pb2_grpc as product_grpc
from tests.support.helpers import create_product, new_id, order_request, wait_until
from tests.support.metered_pair import MeteredPair
from tests.support.prometheus_scrape import Scrape
from tests.support.prometheus_server import REPO_ROOT, PrivatePrometheus

pytestmark = [pytest.mark.slow, pytest.mark.once]

ORDER_SERVICE, PRODUCT_SERVICE = "eshop.order.v1.OrderService", "eshop.product.v1.ProductService"
CREATE, CANCEL, GET_ORDER = (f"{ORDER_SERVICE}/{m}" for m in ("CreateOrder", "CancelOrder", "GetOrder"))
RESERVE, RELEASE = f"{PRODUCT_SERVICE}/ReserveStock", f"{PRODUCT_SERVICE}/ReleaseStock"
DASHBOARD = REPO_ROOT / "deploy" / "grafana" / "eshop.json"
# Metrics the dashboard shows that the services do not export yet: a panel that reads only these may be
# empty while neither service exports them, and not a moment longer. None today (the event gauges came).
AWAITED_METRICS: set[str] = set()
SETTLE_S = 20.0  # scrapes and rule evaluations run every second: anything not seen by then is wrong
SCRAPES_BEFORE = 10


@dataclass
class System:
    pair: MeteredPair
    prometheus: PrivatePrometheus
    # What the sequence did, counted by the test as it went.
    calls: dict[str, int] = field(default_factory=dict)

    def scrapes(self) -> tuple[Scrape, Scrape]:
        return self.pair.product_metrics(), self.pair.order_metrics()


@pytest.fixture
def system(pair: MeteredPair, tmp_path: Path) -> Iterator[System]:
    assert pair.product.metrics_address is not None and pair.order.metrics_address is not None
    prometheus = PrivatePrometheus(
        tmp_path / "prometheus",
        {"eshop-product": [pair.product.metrics_address], "eshop-order": [pair.order.metrics_address]},
    )
    try:
        yield System(pair, prometheus)
    finally:
        prometheus.stop()


def test_a_real_prometheus_sees_every_counter_from_zero_and_every_rule_and_panel_reads_the_sequence(
    system: System,
) -> None:
    prometheus = system.prometheus
    # Both targets scraped for a while before anything happens: every series is stored at 0 first, and
    # rate() over 5 minutes of series this old extrapolates by a few percent at most.
    wait_until(
        lambda: all(
            prometheus.values(
                f'count_over_time(up{{job="{job}"}}[1m]) >= {SCRAPES_BEFORE} and up{{job="{job}"}} == 1'
            )
            for job in ("eshop-product", "eshop-order")
        ),
        SETTLE_S,
        f"{SCRAPES_BEFORE} scrapes of each service",
    )

    _run_the_sequence(system)
    _wait_until_prometheus_holds(
        system,
        {
            'sum(eshop_outbox_deliveries_total{result="acknowledged"})': system.calls["release"],
            "sum(job:eshop_products_low_stock:max)": 1,  # a recording rule evaluated on the last scrape
        },
    )

    _check_every_counter_was_stored_from_zero(system)
    _check_increase_counts_the_first_event(prometheus)
    _check_every_recording_rule(system)
    _check_every_dashboard_query(system)


def _run_the_sequence(system: System) -> None:
    """Two rounds. The first, from start-up: a rejection first, then confirmations, a refusal for lack of
    stock, a cancellation, a NOT_FOUND, a retried reservation and one the Product service never
    answered. A histogram series (unlike a counter) is born with its first call, so the latency of a
    round shows only for series that existed before it: the second round repeats a confirmation, a
    cancellation and a NOT_FOUND once Prometheus has stored the first round."""
    calls = system.calls
    with (
        grpc.insecure_channel(f"127.0.0.1:{system.pair.product.port}") as product_channel,
        grpc.insecure_channel(f"127.0.0.1:{system.pair.order.port}") as order_channel,
    ):
        products = product_grpc.ProductServiceStub(product_channel)
        orders = order_grpc.OrderServiceStub(order_channel)

        def count(name: str) -> None:
            calls[name] = calls.get(name, 0) + 1

        def create(product_id: str, quantity: int) -> order_pb2.Order:
            count("create")
            request = order_request(new_id(), (product_id, quantity), request_id=new_id())
            created: order_pb2.Order = orders.CreateOrder(request, timeout=10)
            return created

        def confirm_cancel_and_miss(product_id: str) -> None:
            confirmed = create(product_id, 1)
            assert confirmed.status == order_pb2.ORDER_STATUS_CONFIRMED
            count("cancel")
            orders.CancelOrder(order_pb2.CancelOrderRequest(order_id=confirmed.order_id), timeout=10)
            count("get")
            with pytest.raises(grpc.RpcError) as not_found:  # an answer, not a failure of the service
                orders.GetOrder(order_pb2.GetOrderRequest(order_id=new_id()), timeout=10)
            assert not_found.value.code() is grpc.StatusCode.NOT_FOUND

        # The first call of all: a rejection (a product that does not exist).
        assert create(new_id(), 1).status == order_pb2.ORDER_STATUS_REJECTED
        product_id = create_product(products, stock=5, low_stock_threshold=4).product_id
        assert create(product_id, 10).status == order_pb2.ORDER_STATUS_REJECTED  # insufficient stock
        confirm_cancel_and_miss(product_id)
        # Retried: two UNAVAILABLE attempts, then the reservation (stock 5 -> 4: at its threshold).
        system.pair.fail_reserve.failures = system.pair.fail_reserve.attempts + 2
        assert create(product_id, 1).status == order_pb2.ORDER_STATUS_CONFIRMED
        # Every attempt UNAVAILABLE: the Order service fails the call (UNAVAILABLE) and rejects the
        # order; its release goes through the outbox.
        system.pair.fail_reserve.failures = None
        with pytest.raises(grpc.RpcError) as unavailable:
            create(product_id, 1)
        assert unavailable.value.code() is grpc.StatusCode.UNAVAILABLE
        system.pair.fail_reserve.failures = 0
        calls["reserve_attempts"] = system.pair.fail_reserve.attempts
        _wait_until_prometheus_holds(system, {'sum(eshop_outbox_deliveries_total{result="acknowledged"})': 2})

        confirm_cancel_and_miss(product_id)
    calls["reserve"] = calls["create"]  # every CreateOrder reserved (the first, of an unknown product)
    calls["reserve_attempts"] += 1  # the second round's reservation: one attempt
    calls["release"] = calls["cancel"] + 1  # the cancellations', and the given-up order's (outbox)


def _wait_until_prometheus_holds(system: System, expected: dict[str, float]) -> None:
    """The outbox drained and the gauges refreshed (on demand: they refresh every 5 s by themselves),
    then until Prometheus has scraped what the services now export: every call's histogram sample and
    counter, and ``expected``."""
    order_gauges = system.pair.order_container.order_gauges()
    product_gauges = system.pair.product_container.product_gauges()

    def drained() -> bool:
        system.pair.order.call(order_gauges.refresh())
        return system.scrapes()[1].value("eshop_outbox_pending") == 0

    wait_until(drained, SETTLE_S, "the outbox drained")
    system.pair.product.call(product_gauges.refresh())
    held: dict[str, float] = {}

    def seen() -> bool:
        # What the services export now (a call's status goes out before its metrics are recorded, so
        # the last call's may land after a first look), against what Prometheus holds.
        at_product, at_order = system.scrapes()
        held.clear()
        held.update(
            {
                "sum(eshop_orders_total)": at_order.total("eshop_orders_total"),
                "sum(eshop_stock_reservations_total)": at_product.total("eshop_stock_reservations_total"),
                **{
                    f'sum({name}{{job="{job}"}})': scraped.total(name)
                    for job, scraped in (("eshop-product", at_product), ("eshop-order", at_order))
                    for name in ("grpc_server_call_started_total", "grpc_server_call_duration_seconds_count")
                },
                **expected,
            }
        )
        return all(_only(system.prometheus, expr) == value for expr, value in held.items())

    try:
        wait_until(seen, SETTLE_S, "Prometheus to hold what the services export")
    except AssertionError as error:
        raise AssertionError(f"{error}: {held}") from None


def _check_every_counter_was_stored_from_zero(system: System) -> None:
    """Every counter series either service exports was stored at 0 before its first event; the
    process metrics are there for both."""
    for job, scraped in zip(("eshop-product", "eshop-order"), system.scrapes(), strict=True):
        counters = {f"{name}_total" for name, kind in scraped.families.items() if kind == "counter"}
        counters.discard("process_cpu_seconds_total")
        assert counters
        for counter in sorted(counters):
            lowest = system.prometheus.values(f'min_over_time({counter}{{job="{job}"}}[5m])')
            assert len(lowest) == len(scraped.matching(counter)), counter
            assert set(lowest.values()) == {0.0}, (counter, lowest)
        for name in (
            "process_cpu_seconds_total",
            "process_resident_memory_bytes",
            "process_open_fds",
            "process_start_time_seconds",
        ):
            assert _only(system.prometheus, f'{name}{{job="{job}"}}') > 0, (job, name)


def _check_increase_counts_the_first_event(prometheus: PrivatePrometheus) -> None:
    for series in (
        'eshop_orders_total{outcome="rejected", reason="unknown_product"}',
        'eshop_stock_reservations_total{result="unknown_product"}',
    ):
        # At the moment of the last scrape, increase() has nothing to extrapolate: exactly 1 (a series
        # born with its first event would read 0 here).
        last_scrape = _only(prometheus, f"timestamp({series})")
        [sample] = prometheus.query(f"increase({series}[5m])", at=last_scrape)
        assert float(sample["value"][1]) == pytest.approx(1), series


def _check_every_recording_rule(system: System) -> None:
    calls, prometheus = system.calls, system.prometheus
    reserve_attempts_per_call = calls["reserve_attempts"] / calls["reserve"]
    # Every reservation but the last had one attempt that was answered (OK, NOT_FOUND or
    # FAILED_PRECONDITION: answers); every other attempt was UNAVAILABLE, a failure.
    failed_reserve_attempts = calls["reserve_attempts"] - (calls["reserve"] - 1)

    def by_method(record: str, job: str) -> dict[str, float]:
        return {
            dict(labels)["grpc_method"]: value
            for labels, value in prometheus.values(f'{record}{{job="{job}"}}').items()
        }

    def calls_per_second() -> None:
        order = by_method("job_grpc_method:grpc_server_calls:rate5m", "eshop-order")
        product = by_method("job_grpc_method:grpc_server_calls:rate5m", "eshop-product")
        # rate() over 5 minutes of a series some seconds old: its increase over 300 s, extrapolated to
        # the end of the window by at most a scrape (a few percent here). Between the series of one
        # target the extrapolation is the same, so their proportions are exact.
        assert order[CREATE] * 300 == pytest.approx(calls["create"], rel=0.15)
        per_call = order[CREATE] / calls["create"]
        assert order[CANCEL] == pytest.approx(per_call * calls["cancel"])
        assert order[GET_ORDER] == pytest.approx(per_call * calls["get"])
        assert product[RESERVE] * 300 == pytest.approx(calls["reserve_attempts"], rel=0.15)
        per_attempt = product[RESERVE] / calls["reserve_attempts"]
        assert product[RELEASE] == pytest.approx(per_attempt * calls["release"])
        assert order[f"{ORDER_SERVICE}/ListOrders"] == 0  # never called, exported at 0: a rate of 0

    def failure_ratio() -> None:
        order = by_method("job_grpc_method:grpc_server_failures:ratio_rate5m", "eshop-order")
        product = by_method("job_grpc_method:grpc_server_failures:ratio_rate5m", "eshop-product")
        # One target's series share their scrapes: the ratio is exact. NOT_FOUND and the rejections
        # are answers; the one CreateOrder answered UNAVAILABLE is the Order service's only failure.
        assert order == {CREATE: pytest.approx(1 / calls["create"]), CANCEL: 0, GET_ORDER: 0}
        assert product[RESERVE] == pytest.approx(failed_reserve_attempts / calls["reserve_attempts"])
        assert product[RELEASE] == 0

    def latency(record: str) -> Callable[[], None]:
        def check() -> None:
            for job, methods in (("eshop-order", {CREATE, CANCEL, GET_ORDER}), ("eshop-product", {RESERVE})):
                seconds = by_method(record, job)
                assert methods <= seconds.keys(), (record, seconds)
                assert all(0 < seconds[m] < 10 for m in methods), (record, seconds)

        return check

    def attempts_per_call() -> None:
        values = {
            dict(labels)["grpc_method"]: value
            for labels, value in prometheus.values(
                "grpc_method:eshop_grpc_client_attempts_per_call:ratio_rate5m"
            ).items()
        }
        # Releases were never retried: exactly 1. Reservations: the retries that reached the Product
        # service per call (counted by two targets, whose scrapes differ by a fraction of a second).
        assert values[RELEASE] == 1
        assert values[RESERVE] == pytest.approx(reserve_attempts_per_call, rel=0.1)
        assert reserve_attempts_per_call > 1.5  # the sequence did retry
        assert values.keys() == {RESERVE, RELEASE}  # GetReservation: never called, so no ratio

    def gauge(expected: float) -> Callable[[str], None]:
        def check(record: str) -> None:
            assert prometheus.values(record) == {
                (("job", "eshop-product" if "products" in record else "eshop-order"),): expected
            }

        return check

    checks: dict[str, Callable[[], None]] = {
        "job_grpc_method:grpc_server_calls:rate5m": calls_per_second,
        "job_grpc_method:grpc_server_failures:ratio_rate5m": failure_ratio,
        "job_grpc_method:grpc_server_call_duration_seconds:p50_rate5m": latency(
            "job_grpc_method:grpc_server_call_duration_seconds:p50_rate5m"
        ),
        "job_grpc_method:grpc_server_call_duration_seconds:p99_rate5m": latency(
            "job_grpc_method:grpc_server_call_duration_seconds:p99_rate5m"
        ),
        "grpc_method:eshop_grpc_client_attempts_per_call:ratio_rate5m": attempts_per_call,
        **{
            record: (lambda record=record, value=value: gauge(value)(record))
            for record, value in (
                ("job:eshop_outbox_pending:max", 0),
                ("job:eshop_outbox_oldest_age_seconds:max", 0),
                ("job:eshop_orders_pending:max", 0),
                ("job:eshop_orders_pending_oldest_age_seconds:max", 0),
                ("job:eshop_products_low_stock:max", 1),
            )
        },
    }
    assert set(checks) == _recording_rules(prometheus), "every recording rule needs a check here"
    for record, check in checks.items():
        # Each check until it holds: the rules are evaluated every second, the two targets scraped at
        # their own moments, so the last evaluation may not have seen both final scrapes yet.
        _eventually(check, record)
        assert not any(math.isnan(v) for v in prometheus.values(record).values()), record


def _check_every_dashboard_query(system: System) -> None:
    exported = {s.name for scraped in system.scrapes() for s in scraped.samples}
    assert not AWAITED_METRICS & exported, (
        f"{AWAITED_METRICS & exported} exported now: remove them from AWAITED_METRICS"
    )
    queries = _dashboard_queries()
    assert len(queries) >= 20
    for title, expr in queries:
        # Grafana's $__rate_interval, as it would be for a 1 s scrape interval (at least 4 scrapes).
        result = system.prometheus.query(expr.replace("$__rate_interval", "1m"))
        if not result and any(name in expr for name in AWAITED_METRICS):
            continue
        assert result, f"panel {title!r}: {expr!r} returned nothing after the sequence"


def _recording_rules(prometheus: PrivatePrometheus) -> set[str]:
    """The recording rules Prometheus loaded from rules.yml, each evaluated without error."""
    recording = [rule for rule in prometheus.rules() if rule["type"] == "recording"]
    assert [rule for rule in prometheus.rules() if rule["health"] != "ok"] == []
    return {rule["name"] for rule in recording}


def _dashboard_queries() -> list[tuple[str, str]]:
    dashboard = json.loads(DASHBOARD.read_text())
    return [
        (panel["title"], target["expr"])
        for panel in dashboard["panels"]
        for target in panel.get("targets", [])
    ]


def _eventually(check: Callable[[], None], what: str) -> None:
    deadline = time.monotonic() + SETTLE_S
    while True:
        try:
            check()
            return
        except AssertionError as error:
            if time.monotonic() > deadline:
                raise AssertionError(f"{what}: {error}") from error
        time.sleep(0.2)


def _only(prometheus: PrivatePrometheus, expr: str) -> float:
    values = list(prometheus.values(expr).values())
    return values[0] if len(values) == 1 else math.nan
