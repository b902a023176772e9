"""OrderService over gRPC: translate, dispatch through the mediator, translate back. Each message names
its caller (the principal the auth interceptor bound; None with authentication off), and a change its
origin (the call's correlation id and trace, which work done later on its behalf keeps)."""

from __future__ import annotations

from typing import Any

import grpc

from common import call_context, correlation, telemetry
from common.call_context import Origin, caller
from common.generated.eshop.order.v1 import order_pb2 as pb
from common.generated.eshop.order.v1 import order_pb2_grpc as pb_grpc
from common.grpc import response_size
from common.grpc.contract import ORDER_SERVICE
from common.mediator import Mediator
from order.application import messages as m
from order.presentation.mapping import lines, order_to_pb

SERVICE_NAME = ORDER_SERVICE


class OrderServicer(pb_grpc.OrderServiceServicer):
    def __init__(self, mediator: Mediator) -> None:
        self._mediator = mediator

    async def CreateOrder(
        self, request: pb.CreateOrderRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> pb.Order:
        command = m.CreateOrder(
            request.customer_id, lines(request.items), request.request_id, caller(), _origin()
        )
        return order_to_pb(await self._mediator.send(command))

    async def CancelOrder(
        self, request: pb.CancelOrderRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> pb.Order:
        return order_to_pb(
            await self._mediator.send(m.CancelOrder(request.order_id, request.reason, caller(), _origin()))
        )

    async def GetOrder(
        self, request: pb.GetOrderRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> pb.Order:
        return order_to_pb(await self._mediator.send(m.GetOrder(request.order_id, caller())))

    async def ListOrders(
        self, request: pb.ListOrdersRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> pb.ListOrdersResponse:
        page = await self._mediator.send(
            m.ListOrders(request.customer_id, request.page_size, request.page_token, caller())
        )
        orders = [order_to_pb(o) for o in page.orders]
        kept = response_size.fitting(orders)
        if kept < len(orders):  # a short page: the rest would not fit a default client
            page, orders = page.first(kept), orders[:kept]
        return pb.ListOrdersResponse(orders=orders, next_page_token=page.next_page_token)


def _origin() -> Origin:
    """The call being served, as work done later on its behalf remembers it."""
    return Origin(call_context.correlation_id() or correlation.new_id(), telemetry.current_trace_context())
