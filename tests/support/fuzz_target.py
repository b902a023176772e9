"""Both services in this process, with ids that exist (so that hostile requests reach past validation
into the handlers) and their databases read directly (so that a refused request is seen to store
nothing): what the fuzz and the validation boundaries call."""

from __future__ import annotations

from dataclasses import dataclass

import grpc
from google.protobuf.message import Message
from sqlalchemy import Engine, Table, func, select

from common.correlation import HEADER
from order.infrastructure.tables import order_lines, orders, release_outbox
from product.infrastructure.tables import products, reservation_lines, reservations
from tests.support.fuzz_strategies import Known, RpcCase
from tests.support.processes import InProcess

CALL_TIMEOUT_S = 30.0  # a 100k-character request is slow to validate on a busy machine


@dataclass
class Target:
    services: InProcess
    known: Known
    channels: dict[str, grpc.Channel]
    engines: dict[str, Engine]

    def row_counts(self) -> dict[str, int]:
        tables: list[tuple[str, Table]] = [
            ("product", t) for t in (products, reservations, reservation_lines)
        ]
        tables += [("order", t) for t in (orders, order_lines, release_outbox)]
        counts = {}
        for service, table in tables:
            with self.engines[service].connect() as conn:
                counts[table.name] = conn.execute(select(func.count()).select_from(table)).scalar_one()
        # Every write of a product moves its version on: an update that changes no row count shows here.
        with self.engines["product"].connect() as conn:
            counts["products.version"] = conn.execute(select(func.sum(products.c.version))).scalar_one()
        return counts

    def call(
        self, case: RpcCase, request: Message, cid: str | None
    ) -> tuple[grpc.StatusCode, str, list[str]]:
        service = (
            "eshop.product.v1.ProductService" if case.service == "product" else "eshop.order.v1.OrderService"
        )
        method = self.channels[case.service].unary_unary(
            f"/{service}/{case.method}",
            request_serializer=type(request).SerializeToString,
            response_deserializer=lambda raw: raw,
        )
        metadata = () if cid is None else ((HEADER, cid),)
        try:
            _, call = method.with_call(request, metadata=metadata, timeout=CALL_TIMEOUT_S)
            code, details = grpc.StatusCode.OK, ""
        except grpc.RpcError as error:
            call, code, details = error, error.code(), error.details() or ""
        echoed = [str(v) for k, v in call.trailing_metadata() or () if k == HEADER]
        return code, details, echoed
