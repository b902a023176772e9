"""Lean Order and Product servers on the sync gRPC server with a thread pool.

Run one: ``python -c "from benchmarks.lean.sync_servers import serve; serve('order')"`` with
``LEAN_LISTEN_ADDRESS``, ``LEAN_DATABASE_URL`` and, for the Order server, ``LEAN_PRODUCT_TARGET``.
"""

from __future__ import annotations

import os
import signal
import threading
from concurrent import futures
from datetime import datetime, timezone
from typing import NoReturn, TypeVar

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from benchmarks.lean import order_work as orders
from benchmarks.lean import product_work as products
from benchmarks.lean.db import Database, finish
from benchmarks.lean.schema import ddl
from benchmarks.lean.wire import (
    CHANNEL_OPTIONS,
    HEADER,
    Refusal,
    budget,
    check_lines,
    correlation_id,
    invalid,
    is_uuid,
)  # fmt: skip
from common.generated.eshop.order.v1 import order_pb2 as pb
from common.generated.eshop.order.v1 import order_pb2_grpc as pb_grpc
from common.generated.eshop.product.v1 import product_pb2 as product_pb
from common.generated.eshop.product.v1 import product_pb2_grpc as product_grpc

WORKERS = 10  # as ServerSettings.max_workers
Reply = TypeVar("Reply")


def now() -> datetime:
    return datetime.now(timezone.utc)


def _begin(context: grpc.ServicerContext) -> str:
    cid = correlation_id(context.invocation_metadata())
    context.set_trailing_metadata(((HEADER, cid),))
    return cid


def _answer(context: grpc.ServicerContext, cid: str, reply: Reply) -> Reply:
    context.send_initial_metadata(((HEADER, cid),))
    return reply


def _refuse(context: grpc.ServicerContext, cid: str, refusal: Refusal) -> NoReturn:
    if refusal.code is not grpc.StatusCode.UNAVAILABLE:  # UNAVAILABLE goes trailers-only (retryable)
        context.send_initial_metadata(((HEADER, cid),))
    context.abort_with_status(refusal.status(cid))
    raise AssertionError("abort_with_status returned")


class OrderServicer(pb_grpc.OrderServiceServicer):
    def __init__(self, db: Database, product_target: str) -> None:
        self._db = db
        stub = product_grpc.ProductServiceStub(grpc.insecure_channel(product_target, options=CHANNEL_OPTIONS))
        self._reserve, self._release = stub.ReserveStock, stub.ReleaseStock

    def CreateOrder(self, request: pb.CreateOrderRequest, context: grpc.ServicerContext) -> pb.Order:
        cid = _begin(context)
        try:
            return _answer(context, cid, self._create(request, context, cid))
        except Refusal as refusal:
            _refuse(context, cid, refusal)

    def _create(self, request: pb.CreateOrderRequest, context: grpc.ServicerContext, cid: str) -> pb.Order:
        if problems := orders.check_create(request):
            raise invalid(problems)
        db, order = self._db, orders.place(request, now())
        with db.transaction() as tx:
            earlier = finish(orders.insert_pending(db, tx, order, request.request_id))
        if earlier is not None:  # a repeated request_id: the order the first call made
            return earlier.to_pb()
        try:
            reply = self._reserve(
                orders.reserve_request(order),
                timeout=budget(context.time_remaining()),
                metadata=((HEADER, cid),),
            )
            resolved = orders.confirmed(order, reply, now())
        except grpc.RpcError as error:
            outcome = orders.outcome(order, error, now())
            if isinstance(outcome, orders.Unavailable):
                with db.transaction() as tx:
                    refusal = finish(orders.give_up(db, tx, order, outcome, cid=cid, now=now()))
                raise refusal from None
            resolved = outcome
        with db.transaction() as tx:
            settled = finish(orders.settle(db, tx, resolved, cid, now()))
        return settled.to_pb()

    def CancelOrder(self, request: pb.CancelOrderRequest, context: grpc.ServicerContext) -> pb.Order:
        cid = _begin(context)
        try:
            if problems := orders.check_cancel(request):
                raise invalid(problems)
            db, order_id = self._db, request.order_id.lower()
            with db.transaction() as tx:
                cancelled, entry = finish(orders.cancel(db, tx, order_id, request.reason, cid=cid, now=now()))
            if entry is not None:
                self._deliver(order_id, entry, context, cid)
            return _answer(context, cid, cancelled.to_pb())
        except Refusal as refusal:
            _refuse(context, cid, refusal)

    def _deliver(self, order_id: str, entry: int, context: grpc.ServicerContext, cid: str) -> None:
        """One attempt at once; if it fails the outbox row stays (the real service's worker retries it)."""
        try:
            self._release(product_pb.ReleaseStockRequest(order_id=order_id),
                          timeout=budget(context.time_remaining()), metadata=((HEADER, cid),))  # fmt: skip
        except grpc.RpcError:
            return
        with self._db.transaction() as tx:
            finish(orders.release_done(tx, entry))


class ProductServicer(product_grpc.ProductServiceServicer):
    def __init__(self, db: Database) -> None:
        self._db = db

    def ReserveStock(
        self, request: product_pb.ReserveStockRequest, context: grpc.ServicerContext
    ) -> product_pb.ReserveStockResponse:
        cid = _begin(context)
        try:
            problems = [] if is_uuid(request.order_id) else ["order_id: must be a UUID"]
            if problems := problems + check_lines(request.items):
                raise invalid(problems)
            lines = [(i.product_id.lower(), i.quantity) for i in request.items]
            with self._db.transaction() as tx:
                reply = finish(products.reserve(self._db, tx, request.order_id.lower(), lines, now()))
            return _answer(context, cid, reply)
        except Refusal as refusal:
            _refuse(context, cid, refusal)

    def ReleaseStock(
        self, request: product_pb.ReleaseStockRequest, context: grpc.ServicerContext
    ) -> product_pb.ReleaseStockResponse:
        cid = _begin(context)
        try:
            if not is_uuid(request.order_id):
                raise invalid(["order_id: must be a UUID"])
            order_id = request.order_id.lower()
            with self._db.transaction() as tx:
                released = finish(products.release(self._db, tx, order_id, now()))
            return _answer(
                context, cid, product_pb.ReleaseStockResponse(order_id=order_id, released=released)
            )
        except Refusal as refusal:
            _refuse(context, cid, refusal)

    def CreateProduct(
        self, request: product_pb.CreateProductRequest, context: grpc.ServicerContext
    ) -> product_pb.Product:
        try:
            with self._db.transaction() as tx:
                return finish(products.create_product(self._db, tx, request, now()))
        except Refusal as refusal:
            _refuse(context, correlation_id(None), refusal)

    def GetProduct(
        self, request: product_pb.GetProductRequest, context: grpc.ServicerContext
    ) -> product_pb.Product:
        try:
            with self._db.transaction() as tx:
                return finish(products.get_product(self._db, tx, request.product_id.lower()))
        except Refusal as refusal:
            _refuse(context, correlation_id(None), refusal)


def open_database(service: str) -> Database:
    db = Database(os.environ["LEAN_DATABASE_URL"])
    db.fresh_schema(f"eshop_lean_{service}", ddl(service, db.postgres))
    return db


def serve(service: str, driver: str = "") -> None:
    """Entry point of a lean server subprocess: runs until SIGTERM/SIGINT (on the synchronous drivers
    only: ``driver`` must be "")."""
    if driver:
        raise ValueError(f"the sync lean servers have no {driver!r} driver")
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=WORKERS))
    db = open_database(service)
    # The lean servicers implement only what the benchmark calls; the other RPCs answer UNIMPLEMENTED.
    if service == "order":
        servicer = OrderServicer(db, os.environ["LEAN_PRODUCT_TARGET"])  # type: ignore[abstract]
        pb_grpc.add_OrderServiceServicer_to_server(servicer, server)
    else:
        product_servicer = ProductServicer(db)  # type: ignore[abstract]
        product_grpc.add_ProductServiceServicer_to_server(product_servicer, server)
    health_servicer = health.HealthServicer()
    health_servicer.set("", health_pb2.HealthCheckResponse.SERVING)
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    if server.add_insecure_port(os.environ["LEAN_LISTEN_ADDRESS"]) == 0:
        raise RuntimeError(f"cannot listen on {os.environ['LEAN_LISTEN_ADDRESS']}")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    server.start()
    while not stop.wait(0.5):
        pass
    server.stop(1).wait()
