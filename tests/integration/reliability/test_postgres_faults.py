"""PostgreSQL's own faults, on a real server: a connection lost in the middle of a transaction, the server
restarted or its backends terminated under load, the database turning read-only and back. Callers get
UNAVAILABLE (retryable: the Order service retries the Product service's), never INTERNAL; nothing is
half-written; readiness follows; writes come back without a restart.

The in-transaction cases use a hook on the service's engine that terminates the backend of the
connection about to send a chosen statement (or its COMMIT), so the loss lands between two statements
of one transaction, where no retry of BEGIN can hide it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import grpc
import psycopg
import pytest
from loguru import logger
from psycopg import sql
from sqlalchemy import event
from sqlalchemy.engine import Engine, make_url

from common.generated.eshop.order.v1 import order_pb2, order_pb2_grpc
from common.generated.eshop.product.v1 import product_pb2, product_pb2_grpc
from tests.support.faults import (
    CALL_TIMEOUT_S,
    NOT_SERVING,
    ORDER_READINESS,
    PRODUCT_READINESS,
    SERVING,
    Load,
    assert_outage_outcomes,
    health_status,
    status_code_of,
)
from tests.support.helpers import create_product, new_id, order_request, wait_until
from tests.support.invariant import assert_stock_conserved, stock_levels, wait_for_quiescence
from tests.support.postgres_cluster import PostgresServer, ThrowawayCluster
from tests.support.processes import InProcess

WRITES_BACK_S = 15.0  # the promise: writes again within 15 s of the database taking them
HEALTH_TIMEOUT_S = 20.0
QUIESCENCE_TIMEOUT_S = 60.0


def _connect(url: str, database: str | None = None) -> psycopg.Connection[tuple[Any, ...]]:
    parsed = make_url(url)
    return psycopg.connect(
        host=parsed.host,
        port=parsed.port,
        user=parsed.username,
        password=parsed.password,
        dbname=database or parsed.database,
        autocommit=True,
    )


def _terminate_backends(url: str) -> int:
    """pg_terminate_backend of every other session on ``url``'s database, waiting for each to end."""
    with _connect(url) as admin:
        rows = admin.execute(
            "SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        ).fetchall()
    return len(rows)


@pytest.fixture
def services(start_in_process: Callable[..., InProcess]) -> InProcess:
    started = start_in_process()
    if make_url(started.product_db).get_backend_name() != "postgresql":
        pytest.skip("PostgreSQL's faults (ESHOP_TEST_BACKEND=postgres)")
    return started


@pytest.fixture
def warnings() -> Iterator[list[str]]:
    """Every WARNING (and above) either in-process service logs while the test runs."""
    lines: list[str] = []
    sink = logger.add(lambda m: lines.append(m.record["message"]), level="WARNING", format="{message}")
    try:
        yield lines
    finally:
        logger.remove(sink)


def _episodes(warnings: list[str], url: str) -> tuple[list[str], list[str]]:
    """The outage lines about ``url``'s database: (started, ended)."""
    name = str(make_url(url).database)
    about = [w for w in warnings if name in w]
    return [w for w in about if " failing (" in w], [w for w in about if "takes writes again after" in w]


class TerminateInside:
    """A hook on a service's engine: once armed, terminates the backend of the connection that is
    about to send the chosen statement (or COMMIT), and waits until it is gone, so the statement meets
    a lost connection in the middle of its transaction."""

    def __init__(self, engine: Engine, admin_url: str) -> None:
        self._engine = engine
        self._admin_url = admin_url
        self._lock = threading.Lock()
        self._fragments: tuple[str, ...] | None = None
        self._commit = False
        self.fired = threading.Event()
        event.listen(engine, "before_cursor_execute", self._before_statement)
        event.listen(engine, "commit", self._before_commit)

    def before(self, *fragments: str) -> None:
        """Fire at the first statement that holds every one of ``fragments`` (in any case)."""
        with self._lock:
            self._fragments, self.fired = tuple(f.upper() for f in fragments), threading.Event()

    def at_commit(self) -> None:
        with self._lock:
            self._commit, self.fired = True, threading.Event()

    def remove(self) -> None:
        event.remove(self._engine, "before_cursor_execute", self._before_statement)
        event.remove(self._engine, "commit", self._before_commit)

    def _before_statement(self, conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        with self._lock:
            if self._fragments is None or not all(f in statement.upper() for f in self._fragments):
                return
            self._fragments = None
        self._terminate(conn)

    def _before_commit(self, conn: Any) -> None:
        with self._lock:
            if not self._commit:
                return
            self._commit = False
        self._terminate(conn)

    def _terminate(self, conn: Any) -> None:
        driver = conn.connection.driver_connection
        pid = driver.get_server_pid() if hasattr(driver, "get_server_pid") else driver.info.backend_pid
        with _connect(self._admin_url) as admin:
            ended = admin.execute("SELECT pg_terminate_backend(%s, 5000)", (pid,)).fetchone()
        assert ended == (True,)
        self.fired.set()


@pytest.fixture
def product_hook(services: InProcess) -> Iterator[TerminateInside]:
    hook = TerminateInside(services.product_container.database().loop_engine, services.product_db)
    yield hook
    hook.remove()


@pytest.fixture
def order_hook(services: InProcess) -> Iterator[TerminateInside]:
    hook = TerminateInside(services.order_container.database().loop_engine, services.order_db)
    yield hook
    hook.remove()


def _product_stub(services: InProcess) -> product_pb2_grpc.ProductServiceStub:
    return product_pb2_grpc.ProductServiceStub(grpc.insecure_channel(services.product_target))


def _order_stub(services: InProcess) -> order_pb2_grpc.OrderServiceStub:
    return order_pb2_grpc.OrderServiceStub(grpc.insecure_channel(services.order_target))


# A RestockProduct is SELECT the product, UPDATE its stock, SELECT it again, SELECT what is held, COMMIT.
RESTOCK_POINTS = {
    "between a read and the write": lambda hook: hook.before("UPDATE products"),
    "after the write": lambda hook: hook.before("SELECT coalesce(sum("),
    "at commit": lambda hook: hook.at_commit(),
}


@pytest.mark.parametrize("point", list(RESTOCK_POINTS))
def test_a_connection_lost_inside_a_transaction_is_unavailable_and_writes_nothing(
    services: InProcess, product_hook: TerminateInside, warnings: list[str], point: str
) -> None:
    stub = _product_stub(services)
    product_id = create_product(stub, stock=10).product_id
    restock = product_pb2.RestockProductRequest(product_id=product_id, quantity=5)

    RESTOCK_POINTS[point](product_hook)
    code = status_code_of(lambda: stub.RestockProduct(restock, timeout=CALL_TIMEOUT_S))

    assert product_hook.fired.is_set(), "the hook never met its statement"
    assert code is grpc.StatusCode.UNAVAILABLE
    assert stock_levels(services.product_db)[product_id] == 10  # nothing half-written
    # The lost connection was discarded: the next call works, and readiness comes back.
    assert stub.RestockProduct(restock, timeout=CALL_TIMEOUT_S).stock_quantity == 15
    wait_until(lambda: health_status(services.product_target) == SERVING, HEALTH_TIMEOUT_S, "SERVING")
    started, ended = _episodes(warnings, services.product_db)
    assert len(started) == 1 and "terminating connection due to administrator command" in started[0], warnings
    assert len(ended) == 1, warnings


def test_a_read_that_loses_its_connection_is_unavailable(
    services: InProcess, order_hook: TerminateInside
) -> None:
    orders = _order_stub(services)
    customer = new_id()
    listing = order_pb2.ListOrdersRequest(customer_id=customer)

    order_hook.before("FROM orders", "ORDER BY orders.create_time DESC")
    code = status_code_of(lambda: orders.ListOrders(listing, timeout=CALL_TIMEOUT_S))

    assert order_hook.fired.is_set()
    assert code is grpc.StatusCode.UNAVAILABLE
    assert list(orders.ListOrders(listing, timeout=CALL_TIMEOUT_S).orders) == []


def test_a_reservation_that_loses_its_connection_is_retried_by_the_order_service(
    services: InProcess, product_hook: TerminateInside
) -> None:
    product_id = create_product(_product_stub(services), stock=10).product_id

    product_hook.before("UPDATE products")  # ReserveStock taking the stock
    order = _order_stub(services).CreateOrder(
        order_request(new_id(), (product_id, 3), request_id=new_id()), timeout=CALL_TIMEOUT_S
    )

    assert product_hook.fired.is_set()
    assert order.status == order_pb2.ORDER_STATUS_CONFIRMED
    wait_for_quiescence(services.order_db, timeout_s=QUIESCENCE_TIMEOUT_S)
    assert_stock_conserved(services.product_db, services.order_db, {product_id: 10})
    assert stock_levels(services.product_db)[product_id] == 7


@pytest.mark.parametrize("statement", ["INSERT INTO orders ", "UPDATE orders "])
def test_an_order_whose_own_transaction_loses_its_connection_is_unavailable_and_resolved_later(
    services: InProcess, order_hook: TerminateInside, statement: str
) -> None:
    """Placing it as PENDING, or recording its outcome: UNAVAILABLE, and the reconciler resolves what
    the lost transaction left (a PENDING order whose stock may be held)."""
    product_id = create_product(_product_stub(services), stock=10).product_id

    order_hook.before(statement)
    code = status_code_of(
        lambda: _order_stub(services).CreateOrder(
            order_request(new_id(), (product_id, 3), request_id=new_id()), timeout=CALL_TIMEOUT_S
        )
    )

    assert order_hook.fired.is_set()
    assert code is grpc.StatusCode.UNAVAILABLE
    wait_for_quiescence(services.order_db, timeout_s=QUIESCENCE_TIMEOUT_S)
    assert_stock_conserved(services.product_db, services.order_db, {product_id: 10})


# Faults under load: both services busy placing, cancelling and listing orders.

STOCK = {"hot": 40, "plenty": 5000}


def _under_load(services: InProcess, fault: Callable[[], None]) -> tuple[Load, dict[str, int]]:
    """Load for ~1 s, ``fault()``, load until 20 more calls have completed; returns the stopped load
    and the products' initial stock."""
    stub = _product_stub(services)
    initial = {create_product(stub, stock=stock).product_id: stock for stock in STOCK.values()}
    load = Load(_order_stub(services), list(initial), threads=8, mixed=True).start()
    try:
        wait_until(lambda: len(load.outcomes) >= 20, 3 * CALL_TIMEOUT_S, "calls before the fault")
        fault()
        done = len(load.outcomes)
        wait_until(lambda: len(load.outcomes) >= done + 20, 3 * CALL_TIMEOUT_S, "calls after the fault")
    finally:
        load.stop()
    return load, initial


def _recovered_and_conserved(services: InProcess, initial: dict[str, int]) -> None:
    plenty = next(p for p, stock in initial.items() if stock == STOCK["plenty"])
    orders = _order_stub(services)

    def confirmed() -> bool:
        request = order_request(new_id(), (plenty, 1), request_id=new_id())
        try:
            return bool(
                orders.CreateOrder(request, timeout=CALL_TIMEOUT_S).status == order_pb2.ORDER_STATUS_CONFIRMED
            )
        except grpc.RpcError as error:
            assert error.code() is grpc.StatusCode.UNAVAILABLE, error
            return False

    wait_until(confirmed, WRITES_BACK_S, "an order to be confirmed again")
    for target, readiness in (
        (services.product_target, PRODUCT_READINESS),
        (services.order_target, ORDER_READINESS),
    ):
        wait_until(
            lambda t=target, r=readiness: health_status(t, service=r) == SERVING,  # type: ignore[misc]
            HEALTH_TIMEOUT_S,
            f"{readiness} SERVING",
        )
    wait_for_quiescence(services.order_db, timeout_s=QUIESCENCE_TIMEOUT_S)
    assert_stock_conserved(services.product_db, services.order_db, initial)


def _at_most_one_episode_per_fault(services: InProcess, warnings: list[str], faults: int) -> None:
    """Transactions that met the same fault on several threads are one episode, logged once: one
    that failed after another's write had ended the episode starts no second one."""
    for url in (services.product_db, services.order_db):
        started, ended = _episodes(warnings, url)
        assert len(started) <= faults, started
        assert len(ended) == len(started), warnings


@pytest.mark.slow
def test_backends_terminated_three_times_under_load_cost_no_internal_error(
    services: InProcess, warnings: list[str]
) -> None:
    def terminate_thrice() -> None:
        for _ in range(3):
            for url in (services.product_db, services.order_db):
                _terminate_backends(url)
            time.sleep(0.3)  # let the load run into fresh connections between the rounds

    load, initial = _under_load(services, terminate_thrice)

    assert_outage_outcomes(load.outcomes)
    _recovered_and_conserved(services, initial)
    _at_most_one_episode_per_fault(services, warnings, 3)


@pytest.mark.slow
def test_a_server_restart_under_load_costs_no_internal_error(
    services: InProcess, postgres_server: PostgresServer, warnings: list[str]
) -> None:
    if not isinstance(postgres_server, ThrowawayCluster):
        pytest.skip("restarts only the throwaway cluster, never a server given by ESHOP_TEST_POSTGRES_URL")

    load, initial = _under_load(services, postgres_server.restart)

    assert_outage_outcomes(load.outcomes)
    _recovered_and_conserved(services, initial)
    _at_most_one_episode_per_fault(services, warnings, 1)


# Read-only and back: default_transaction_read_only, for the whole server or one database.


class ReadOnly:
    def __init__(self, server: PostgresServer, database_url: str) -> None:
        self._server = server
        self._url = database_url
        self._database = str(make_url(database_url).database)

    def _admin(self, statement: sql.Composable) -> None:
        # From the server's own database: a session on the target database may itself be read-only.
        with _connect(self._url, database="postgres") as admin:
            admin.execute(statement)

    def database(self, on: bool) -> None:
        value = sql.SQL(
            "SET default_transaction_read_only = on" if on else "RESET default_transaction_read_only"
        )
        self._admin(sql.SQL("ALTER DATABASE {} ").format(sql.Identifier(self._database)) + value)

    def system(self, on: bool) -> None:
        value = "SET default_transaction_read_only = on" if on else "RESET default_transaction_read_only"
        self._admin(sql.SQL("ALTER SYSTEM " + value))
        self._admin(sql.SQL("SELECT pg_reload_conf()"))

    def terminate_sessions(self) -> None:
        _terminate_backends(self._url)


# How the database turns read-only, and back: the whole server (reloaded: every session follows), or
# one database (new sessions only: the existing ones are terminated, or left as they are).
READ_ONLY_WAYS = {
    "server, reloaded": (lambda ro: ro.system(True), lambda ro: ro.system(False)),
    "database, sessions terminated both ways": (
        lambda ro: (ro.database(True), ro.terminate_sessions()),
        lambda ro: (ro.database(False), ro.terminate_sessions()),
    ),
    "database, read-only sessions left open after": (
        lambda ro: (ro.database(True), ro.terminate_sessions()),
        lambda ro: ro.database(False),
    ),
}


@pytest.mark.slow
@pytest.mark.parametrize("way", list(READ_ONLY_WAYS))
def test_a_database_that_turns_read_only_is_an_outage_and_takes_writes_again_without_a_restart(
    services: InProcess, postgres_server: PostgresServer, warnings: list[str], way: str
) -> None:
    if way.startswith("server") and not isinstance(postgres_server, ThrowawayCluster):
        pytest.skip(
            "ALTER SYSTEM only on the throwaway cluster, never a server given by ESHOP_TEST_POSTGRES_URL"
        )
    turn_on, turn_off = READ_ONLY_WAYS[way]
    read_only = ReadOnly(postgres_server, services.product_db)
    stub = _product_stub(services)
    product_id = create_product(stub, stock=10).product_id
    get = product_pb2.GetProductRequest(product_id=product_id)
    restock = product_pb2.RestockProductRequest(product_id=product_id, quantity=5)
    create = product_pb2.CreateProductRequest(name="Lamp", price="1.00", stock_quantity=1)
    codes: list[grpc.StatusCode] = []

    def restocked() -> grpc.StatusCode:
        codes.append(status_code_of(lambda: stub.RestockProduct(restock, timeout=CALL_TIMEOUT_S)))
        return codes[-1]

    turn_on(read_only)
    try:
        wait_until(
            lambda: restocked() is grpc.StatusCode.UNAVAILABLE, HEALTH_TIMEOUT_S, "writes to be refused"
        )
        assert stub.GetProduct(get, timeout=CALL_TIMEOUT_S).product_id == product_id  # reads go on
        wait_until(
            lambda: health_status(services.product_target) == NOT_SERVING, HEALTH_TIMEOUT_S, "NOT_SERVING"
        )
        for _ in range(3):
            assert restocked() is grpc.StatusCode.UNAVAILABLE
        assert (
            status_code_of(lambda: stub.CreateProduct(create, timeout=CALL_TIMEOUT_S))
            is grpc.StatusCode.UNAVAILABLE
        )
    finally:
        turn_off(read_only)

    wait_until(lambda: restocked() is grpc.StatusCode.OK, WRITES_BACK_S, "writes to work again")
    for _ in range(5):  # every pooled session, not just one
        assert restocked() is grpc.StatusCode.OK
    wait_until(lambda: health_status(services.product_target) == SERVING, HEALTH_TIMEOUT_S, "SERVING")

    assert set(codes) <= {grpc.StatusCode.OK, grpc.StatusCode.UNAVAILABLE}, codes
    stock = stock_levels(services.product_db)[product_id]
    assert stock == 10 + 5 * codes.count(grpc.StatusCode.OK)  # nothing half-written
    started, ended = _episodes(warnings, services.product_db)
    assert len(started) == 1, warnings  # one episode, logged once
    assert len(ended) == 1, warnings
