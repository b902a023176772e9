"""Lean references of CreateOrder/CancelOrder for the benchmark.

Hand-written on bare ``grpc`` and ``sqlite3``/``psycopg``/``asyncpg``: no mediator, DI, pydantic,
SQLAlchemy or loguru. They do the durable work the real services do, with the same statements and the
same schema (indexes included), so that the benchmark can tell what the project's layers and its server
model cost on top of the work itself:

- Order: PENDING insert + commit; ReserveStock over gRPC (retry policy, deadline, correlation id);
  CONFIRMED (names and prices from the reservation) or REJECTED (reason, failed ids) + commit;
  cancel = CANCELLED + an outbox row in one transaction, then the release, then the row deleted.
- Product: ReserveStock as one transaction (the reservation row keyed by order id, a conditional
  ``UPDATE … WHERE stock >= n … RETURNING`` name and price per line in product-id order, the lines),
  idempotent by order id; ReleaseStock puts back exactly what was reserved, once.

``order_work`` and ``product_work`` hold the transactions (coroutines of a ``db.Tx``, which never
suspend on a synchronous driver) and the answers; ``wire`` the rules both servers share; ``schema`` the
DDL. Two server models use them: ``sync_servers`` (a thread pool) and ``aio_servers`` (``grpc.aio``:
SQLite called inline on the event loop; PostgreSQL on a small thread pool, as the services, or awaited
on the loop with ``psycopg``'s ``AsyncConnection`` or ``asyncpg``). Left out, being off the measured
path: the outbox worker, the PENDING reconciler, reflection, metrics, logging.
"""
