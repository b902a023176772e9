"""The services with their PostgreSQL transactions on SQLAlchemy's asyncio engine on ``asyncpg``: a
measurement of that server model, not a way to run them.

Started as ``python -c "from benchmarks.services_asyncpg import serve; serve('order')"``. It is the
service's own ``serve`` with ``PostgresDatabase`` replaced by ``GreenletPostgresDatabase``: each
transaction stays the same short synchronous function, run in a greenlet on the event loop
(``greenlet_spawn``, what ``AsyncConnection.run_sync`` does) on the asyncio engine's synchronous facade,
each round trip awaited on the loop instead of a thread hop per transaction. ``BEGIN`` is still the
first round trip of every transaction (asyncpg's own, started at once). Start-up (migrations),
readiness and the outage probes keep the psycopg engine, as they are off the measured path.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.util import await_only, greenlet_spawn

import common.db.factory
from common.db.postgres import PostgresDatabase

T = TypeVar("T")


class GreenletPostgresDatabase(PostgresDatabase):
    def __init__(
        self, url: str, *, pool_size: int = 10, max_overflow: int = 5, threads: int | None = None
    ) -> None:
        super().__init__(url, pool_size=pool_size, max_overflow=max_overflow, threads=threads)
        self._psycopg = self.engine
        asyncpg_url = make_url(url).set(drivername="postgresql+asyncpg")
        facade = create_async_engine(
            asyncpg_url, pool_size=pool_size, max_overflow=max_overflow, pool_timeout=5, pool_use_lifo=True
        ).sync_engine

        def do_begin(dbapi_connection: Any) -> None:
            # BEGIN at once (asyncpg's adapter would say it before the first statement).
            await_only(dbapi_connection.dbapi_connection._start_transaction())

        facade.dialect.do_begin = do_begin  # type: ignore[method-assign]
        self._facade = facade

    def serving(self) -> None:
        self.engine = self._facade  # transactions only, always inside ``run``'s greenlet

    async def run(self, transaction: Callable[[], T], *, write: bool) -> T:
        # The greenlet shares the task's context: the deadline and correlation id go with it.
        return await greenlet_spawn(transaction)

    def _ready(self) -> bool:
        # Asked on a thread: of the psycopg engine (no outage handling: not what is measured here).
        return bool(self._takes_writes(self._psycopg, tries=2))

    def ping(self) -> bool:
        return self._takes_writes(self._psycopg, tries=2) is not None

    def close_connections(self) -> None:
        self._psycopg.dispose()  # the facade's connections are replaced as they fail

    def connections_in_use(self) -> int:
        return int(self._facade.pool.checkedout())  # type: ignore[attr-defined]


def serve(service: str) -> None:
    setattr(common.db.factory, "PostgresDatabase", GreenletPostgresDatabase)  # noqa: B010
    if service == "product":
        from product.server import serve as serve_product

        serve_product()
    else:
        from order.server import serve as serve_order

        serve_order()
