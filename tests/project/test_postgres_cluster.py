"""The test session's PostgreSQL cluster (tests/support/postgres_cluster.py), as docs/testing.md says:
databases made ahead and handed out renamed, each new and empty, and the cluster's files deleted after
it stops."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest
from sqlalchemy.engine import make_url

from tests.support.helpers import wait_until
from tests.support.postgres_cluster import PostgresUnavailableError, ThrowawayCluster


@pytest.fixture
def cluster() -> Iterator[ThrowawayCluster]:
    try:
        started = ThrowawayCluster(for_a_test_session=True)
    except PostgresUnavailableError as error:  # .ci/run installs the server; a laptop may not have it
        pytest.skip(str(error))
    try:
        yield started
    finally:
        started.stop()


def _names(cluster: ThrowawayCluster) -> set[str]:
    with cluster._admin_connection() as conn:
        return {str(row[0]) for row in conn.execute("SELECT datname FROM pg_database")}


def test_databases_are_spares_made_ahead_each_new_and_empty(cluster: ThrowawayCluster) -> None:
    def spares() -> int:
        return sum(name.startswith("spare_") for name in _names(cluster))

    # SPARES wait in the queue (and the thread may have made the next one, which waits for room).
    wait_until(lambda: spares() >= ThrowawayCluster.SPARES, 60, "the spares made ahead")

    # The spares, then more than were ready (made on the spot or by the thread meanwhile).
    urls = [cluster.create_database("product") for _ in range(ThrowawayCluster.SPARES + 2)]

    names = [make_url(url).database for url in urls]
    assert len(set(names)) == len(names)
    assert all(name is not None and name.startswith("test_product_") for name in names)
    for url in urls:
        parsed = make_url(url)
        with psycopg.connect(
            host=parsed.host, port=parsed.port, user=parsed.username, dbname=parsed.database
        ) as conn:
            assert conn.execute("SELECT current_database()").fetchone() == (parsed.database,)
            tables = conn.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'").fetchone()
            assert tables == (0,)


def test_its_files_are_deleted_after_it_stops(cluster: ThrowawayCluster) -> None:
    cluster.create_database("order")
    root = cluster._root

    cluster.stop()

    wait_until(lambda: not root.exists(), 60, "the cluster's files deleted")
