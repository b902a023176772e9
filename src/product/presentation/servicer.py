"""ProductService over gRPC: translate, dispatch through the mediator, translate back. Nothing else."""

from __future__ import annotations

from typing import Any

import grpc

from common.generated.eshop.product.v1 import product_pb2 as pb
from common.generated.eshop.product.v1 import product_pb2_grpc as pb_grpc
from common.grpc import response_size
from common.grpc.contract import PRODUCT_SERVICE
from common.mediator import Mediator
from product.application import messages as m
from product.presentation.mapping import (
    product_to_pb,
    release_to_pb,
    reservation_state_to_pb,
    reservation_to_pb,
    stock_lines,
    update_command,
)

SERVICE_NAME = PRODUCT_SERVICE


class ProductServicer(pb_grpc.ProductServiceServicer):
    def __init__(self, mediator: Mediator) -> None:
        self._mediator = mediator

    async def CreateProduct(
        self, request: pb.CreateProductRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> pb.Product:
        command = m.CreateProduct(
            name=request.name,
            description=request.description,
            price=request.price,
            stock_quantity=request.stock_quantity,
            low_stock_threshold=request.low_stock_threshold,
            category=request.category,
        )
        return product_to_pb(await self._mediator.send(command))

    async def GetProduct(
        self, request: pb.GetProductRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> pb.Product:
        return product_to_pb(await self._mediator.send(m.GetProduct(request.product_id)))

    async def ListProducts(
        self, request: pb.ListProductsRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> pb.ListProductsResponse:
        query = m.ListProducts(request.page_size, request.page_token, request.category, request.show_deleted)
        page = await self._mediator.send(query)
        products = [product_to_pb(p) for p in page.products]
        kept = response_size.fitting(products)
        if kept < len(products):  # a short page: the rest would not fit a default client
            page, products = page.first(kept), products[:kept]
        return pb.ListProductsResponse(products=products, next_page_token=page.next_page_token)

    async def BatchGetProducts(
        self, request: pb.BatchGetProductsRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> pb.BatchGetProductsResponse:
        products = await self._mediator.send(m.BatchGetProducts(tuple(request.product_ids)))
        return pb.BatchGetProductsResponse(products=[product_to_pb(p) for p in products])

    async def RestockProduct(
        self, request: pb.RestockProductRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> pb.Product:
        return product_to_pb(
            await self._mediator.send(m.RestockProduct(request.product_id, request.quantity))
        )

    async def UpdateProduct(
        self, request: pb.UpdateProductRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> pb.Product:
        return product_to_pb(await self._mediator.send(update_command(request)))

    async def DeleteProduct(
        self, request: pb.DeleteProductRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> pb.Product:
        return product_to_pb(await self._mediator.send(m.DeleteProduct(request.product_id, request.etag)))

    async def UndeleteProduct(
        self, request: pb.UndeleteProductRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> pb.Product:
        return product_to_pb(await self._mediator.send(m.UndeleteProduct(request.product_id, request.etag)))

    async def ReserveStock(
        self, request: pb.ReserveStockRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> pb.ReserveStockResponse:
        command = m.ReserveStock(request.order_id, stock_lines(request.items))
        return reservation_to_pb(await self._mediator.send(command))

    async def ReleaseStock(
        self, request: pb.ReleaseStockRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> pb.ReleaseStockResponse:
        return release_to_pb(await self._mediator.send(m.ReleaseStock(request.order_id)))

    async def GetReservation(
        self, request: pb.GetReservationRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> pb.Reservation:
        return reservation_state_to_pb(await self._mediator.send(m.GetReservation(request.order_id)))
