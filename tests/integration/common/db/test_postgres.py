"""PostgreSQL's readiness when every pooled connection is taken: no answer in time, so NOT ready (the
health probe says NOT_SERVING), never an exception out of the probe."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from common.db.postgres import PostgresDatabase
from tests.support.backend import backend

pytestmark = pytest.mark.skipif(
    backend() != "postgres", reason="PostgreSQL's pool (ESHOP_TEST_BACKEND=postgres)"
)


def test_a_pool_with_no_connection_free_is_not_ready_and_raises_nothing(
    make_database_url: Callable[[str], str],
) -> None:
    database = PostgresDatabase(make_database_url("ready"), pool_size=1, max_overflow=0)
    try:
        assert asyncio.run(database.is_ready()) is True
        held = database.engine.connect()  # the pool's one connection, until pool_timeout and past it
        try:
            assert asyncio.run(database.is_ready()) is False
        finally:
            held.close()
        assert asyncio.run(database.is_ready()) is True
    finally:
        database.dispose()
