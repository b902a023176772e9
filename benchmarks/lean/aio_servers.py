"""Lean Order and Product servers on ``grpc.aio``.

Where a transaction runs is what the variants differ in (``Transactions``): on SQLite inline on the
event loop, on the process's one connection, driven to its end at once (a synchronous driver never
suspends); on PostgreSQL with ``psycopg``, on a small thread pool (``driver=""``: the services' model);
or on the loop with an asynchronous driver (``driver="psycopg"``: ``AsyncConnection``; ``"asyncpg"``),
each statement awaited. Only the statements and the outgoing gRPC calls are awaited. Run one as
``sync_servers`` says, with ``aio_servers`` and ``serve(service, driver)``.
"""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any, NoReturn, TypeVar

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from benchmarks.lean import order_work as orders
from benchmarks.lean import product_work as products
from benchmarks.lean.db import AsyncDatabase, Database, Tx, finish
from benchmarks.lean.sync_servers import now, open_database
from benchmarks.lean.wire import (
    CHANNEL_OPTIONS,
    HEADER,
    Refusal,
    budget,
    check_lines,
    correlation_id,
    invalid,
    is_uuid,
)
from common.generated.eshop.order.v1 import order_pb2 as pb
from common.generated.eshop.order.v1 import order_pb2_grpc as pb_grpc
from common.generated.eshop.product.v1 import product_pb2 as product_pb
from common.generated.eshop.product.v1 import product_pb2_grpc as product_grpc

Reply = TypeVar("Reply")
T = TypeVar("T")
POSTGRES_THREADS = 4  # a connection each
Context = Any  # grpc.aio.ServicerContext; grpc has no type hints
Work = Callable[[Tx], Coroutine[Any, Any, T]]  # a transaction's statements


def _begin(context: Context) -> str:
    cid = correlation_id(context.invocation_metadata())
    context.set_trailing_metadata(((HEADER, cid),))
    return cid


async def _answer(context: Context, cid: str, reply: Reply) -> Reply:
    await context.send_initial_metadata(((HEADER, cid),))
    return reply


async def _refuse(context: Context, cid: str, refusal: Refusal) -> NoReturn:
    if refusal.code is not grpc.StatusCode.UNAVAILABLE:  # UNAVAILABLE goes trailers-only (retryable)
        await context.send_initial_metadata(((HEADER, cid),))
    await context.abort_with_status(refusal.status(cid))
    raise AssertionError("abort_with_status returned")


class Transactions:
    """Runs a transaction, a coroutine of a ``Tx``: inline on the event loop for SQLite (nothing else
    runs meanwhile, so they never interleave); on a small thread pool for PostgreSQL on ``psycopg``,
    whose round trips to another process would stall the loop; awaited on the loop on an asynchronous
    driver."""

    def __init__(self, db: Database | AsyncDatabase) -> None:
        self._db = db
        self._pool = (
            ThreadPoolExecutor(POSTGRES_THREADS) if isinstance(db, Database) and db.postgres else None
        )

    async def __call__(self, work: Work[T]) -> T:
        if isinstance(self._db, AsyncDatabase):
            async with self._db.transaction() as tx:
                return await work(tx)
        if self._pool is None:
            return self._run(self._db, work)
        return await asyncio.get_running_loop().run_in_executor(self._pool, self._run, self._db, work)

    @staticmethod
    def _run(db: Database, work: Work[T]) -> T:
        with db.transaction() as tx:
            return finish(work(tx))


class OrderServicer(pb_grpc.OrderServiceServicer):
    def __init__(self, db: Database | AsyncDatabase, product_target: str) -> None:
        self._db, self._tx = db, Transactions(db)
        channel = grpc.aio.insecure_channel(product_target, options=CHANNEL_OPTIONS)
        stub = product_grpc.ProductServiceStub(channel)
        self._reserve, self._release = stub.ReserveStock, stub.ReleaseStock

    async def CreateOrder(self, request: pb.CreateOrderRequest, context: Context) -> pb.Order:
        cid = _begin(context)
        try:
            return await _answer(context, cid, await self._create(request, context, cid))
        except Refusal as refusal:
            await _refuse(context, cid, refusal)

    async def _create(self, request: pb.CreateOrderRequest, context: Context, cid: str) -> pb.Order:
        if problems := orders.check_create(request):
            raise invalid(problems)
        db, order = self._db, orders.place(request, now())
        earlier = await self._tx(lambda tx: orders.insert_pending(db, tx, order, request.request_id))
        if earlier is not None:  # a repeated request_id: the order the first call made
            return earlier.to_pb()
        try:
            reply = await self._reserve(
                orders.reserve_request(order),
                timeout=budget(context.time_remaining()),
                metadata=((HEADER, cid),),
            )
            resolved = orders.confirmed(order, reply, now())
        except grpc.RpcError as error:
            outcome = orders.outcome(order, error, now())
            if isinstance(outcome, orders.Unavailable):
                raise await self._tx(
                    lambda tx: orders.give_up(db, tx, order, outcome, cid=cid, now=now())
                ) from None
            resolved = outcome
        settled = await self._tx(lambda tx: orders.settle(db, tx, resolved, cid, now()))
        return settled.to_pb()

    async def CancelOrder(self, request: pb.CancelOrderRequest, context: Context) -> pb.Order:
        cid = _begin(context)
        try:
            if problems := orders.check_cancel(request):
                raise invalid(problems)
            db, order_id = self._db, request.order_id.lower()
            cancelled, entry = await self._tx(
                lambda tx: orders.cancel(db, tx, order_id, request.reason, cid=cid, now=now())
            )
            if entry is not None:
                await self._deliver(order_id, entry, context, cid)
            return await _answer(context, cid, cancelled.to_pb())
        except Refusal as refusal:
            await _refuse(context, cid, refusal)

    async def _deliver(self, order_id: str, entry: int, context: Context, cid: str) -> None:
        """One attempt at once; if it fails the outbox row stays (the real service's worker retries it)."""
        try:
            await self._release(
                product_pb.ReleaseStockRequest(order_id=order_id),
                timeout=budget(context.time_remaining()),
                metadata=((HEADER, cid),),
            )
        except grpc.RpcError:
            return
        await self._tx(lambda tx: orders.release_done(tx, entry))


class ProductServicer(product_grpc.ProductServiceServicer):
    def __init__(self, db: Database | AsyncDatabase) -> None:
        self._db, self._tx = db, Transactions(db)

    async def ReserveStock(
        self, request: product_pb.ReserveStockRequest, context: Context
    ) -> product_pb.ReserveStockResponse:
        cid = _begin(context)
        try:
            problems = [] if is_uuid(request.order_id) else ["order_id: must be a UUID"]
            if problems := problems + check_lines(request.items):
                raise invalid(problems)
            lines = [(i.product_id.lower(), i.quantity) for i in request.items]
            order_id = request.order_id.lower()
            reply = await self._tx(lambda tx: products.reserve(self._db, tx, order_id, lines, now()))
            return await _answer(context, cid, reply)
        except Refusal as refusal:
            await _refuse(context, cid, refusal)

    async def ReleaseStock(
        self, request: product_pb.ReleaseStockRequest, context: Context
    ) -> product_pb.ReleaseStockResponse:
        cid = _begin(context)
        try:
            if not is_uuid(request.order_id):
                raise invalid(["order_id: must be a UUID"])
            order_id = request.order_id.lower()
            released = await self._tx(lambda tx: products.release(self._db, tx, order_id, now()))
            reply = product_pb.ReleaseStockResponse(order_id=order_id, released=released)
            return await _answer(context, cid, reply)
        except Refusal as refusal:
            await _refuse(context, cid, refusal)

    async def CreateProduct(
        self, request: product_pb.CreateProductRequest, context: Context
    ) -> product_pb.Product:
        try:
            return await self._tx(lambda tx: products.create_product(self._db, tx, request, now()))
        except Refusal as refusal:
            await _refuse(context, correlation_id(None), refusal)

    async def GetProduct(self, request: product_pb.GetProductRequest, context: Context) -> product_pb.Product:
        try:
            product_id = request.product_id.lower()
            return await self._tx(lambda tx: products.get_product(self._db, tx, product_id))
        except Refusal as refusal:
            await _refuse(context, correlation_id(None), refusal)


async def _serve(service: str, driver: str) -> None:
    db: Database | AsyncDatabase = open_database(service)
    if driver:
        if not db.postgres:
            raise ValueError(f"the {driver!r} driver is for PostgreSQL")
        db = AsyncDatabase(os.environ["LEAN_DATABASE_URL"], driver, f"eshop_lean_{service}")
        await db.open()
    server = grpc.aio.server()
    # The lean servicers implement only what the benchmark calls; the other RPCs answer UNIMPLEMENTED.
    if service == "order":
        servicer = OrderServicer(db, os.environ["LEAN_PRODUCT_TARGET"])  # type: ignore[abstract]
        pb_grpc.add_OrderServiceServicer_to_server(servicer, server)
    else:
        product_servicer = ProductServicer(db)  # type: ignore[abstract]
        product_grpc.add_ProductServiceServicer_to_server(product_servicer, server)
    health_servicer = health.aio.HealthServicer()
    await health_servicer.set("", health_pb2.HealthCheckResponse.SERVING)
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    if server.add_insecure_port(os.environ["LEAN_LISTEN_ADDRESS"]) == 0:
        raise RuntimeError(f"cannot listen on {os.environ['LEAN_LISTEN_ADDRESS']}")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await server.start()
    await stop.wait()
    await server.stop(1)


def serve(service: str, driver: str = "") -> None:
    """Entry point of a lean aio server subprocess: runs until SIGTERM/SIGINT. ``driver``: "" (SQLite, or
    ``psycopg`` on a thread pool), "psycopg" or "asyncpg" (asynchronous, PostgreSQL only)."""
    asyncio.run(_serve(service, driver))
