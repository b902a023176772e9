"""Fixtures every test may use. ``make_database_url`` hands out a fresh, empty database per call.

The backend is chosen with ESHOP_TEST_BACKEND: ``sqlite`` (default, a file per database) or ``postgres``
(a database per call on ESHOP_TEST_POSTGRES_URL's server, or on a throwaway cluster started once per session;
see tests/support/postgres_cluster.py). Asking for postgres and not getting it is an error, never a skip.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import common
from common.logging import flush_standard_logging
from tests.support.backend import BACKENDS, backend
from tests.support.logs import LogLine, captured_logs
from tests.support.postgres_cluster import PostgresServer, ThrowawayCluster, external_server
from tests.support.rabbitmq_broker import PrivateRabbit

# No Prometheus endpoint on the default ports: servers of parallel tests (and of a developer's own
# `eshop up`) would clash. A test of the metrics sets an address (port 0) itself.
os.environ["PRODUCT_METRICS_ADDRESS"] = ""
os.environ["ORDER_METRICS_ADDRESS"] = ""


def pytest_configure(config: pytest.Config) -> None:
    if backend() not in BACKENDS:
        raise pytest.UsageError(f"ESHOP_TEST_BACKEND must be one of {BACKENDS}, not {backend()!r}")


def pytest_report_header(config: pytest.Config) -> list[str]:
    return [f"eshop: database backend {backend()}, package imported from {Path(common.__file__).parent}"]


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """The PostgreSQL server of this session; started lazily, on the first test that needs a database."""
    if url := os.environ.get("ESHOP_TEST_POSTGRES_URL"):
        server = external_server(url)
        yield server
        server.drop_created_databases()
        return
    cluster = ThrowawayCluster(for_a_test_session=True)
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def make_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Callable[[str], str]:
    """``make_database_url("product")`` -> a URL of a new empty database (a SQLite file by default)."""
    return _database_maker(request, tmp_path)


@pytest.fixture(scope="module")
def make_module_database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Callable[[str], str]:
    """``make_database_url`` for a module-scoped fixture (servers a module's tests share)."""
    return _database_maker(request, tmp_path_factory.mktemp("databases"))


def _database_maker(request: pytest.FixtureRequest, directory: Path) -> Callable[[str], str]:
    if backend() == "postgres":
        server: PostgresServer = request.getfixturevalue("postgres_server")
        return server.create_database

    def make(name: str) -> str:
        return f"sqlite:///{directory / name}.db"

    return make


@pytest.fixture(scope="session")
def rabbitmq() -> Iterator[PrivateRabbit]:
    """A RabbitMQ node of this session (tests/support/rabbitmq_broker.py), started on first use."""
    broker = PrivateRabbit()
    try:
        yield broker
    finally:
        broker.stop()


@pytest.fixture(autouse=True)
def library_lines_written_in_their_test() -> Iterator[None]:
    """What libraries logged during a test (queued, then written by a thread of its own) is written
    before the test ends, with the logging the test set up, not into the next test's capture."""
    yield
    flush_standard_logging()


@pytest.fixture
def logs() -> Iterator[list[LogLine]]:
    """Every loguru record written while the test runs (by the code under test or an in-process service,
    on any thread), with its level and bound correlation id."""
    with captured_logs() as lines:
        yield lines
