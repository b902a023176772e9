"""Catalogue changes of one product: update (AIP-134), delete and undelete (AIP-164), each conditional on
the caller's etag (AIP-154) and counted by outcome."""

from __future__ import annotations

from collections.abc import Callable
from uuid import UUID

from common.clock import Clock
from common.errors import AppError, FailedPrecondition, NotFound
from common.transactions import OneTransaction
from product.application.messages import DeleteProduct, UndeleteProduct, UpdateProduct
from product.application.outcomes import (
    CHANGED,
    DELETE,
    FAILED_PRECONDITION,
    NO_OUTCOMES,
    NOT_FOUND,
    STALE_ETAG,
    UNDELETE,
    UPDATE,
    CatalogueOutcomes,
)
from product.application.storage import ProductUnitOfWork
from product.domain.errors import ProductNotFound, StaleEtag
from product.domain.model import Product


class CatalogueChange(OneTransaction[ProductUnitOfWork]):
    """Read the product locked, let the domain make the change (its rules, then the caller's etag), save
    it compare-and-set on the version read; report the outcome. The lock makes an unconditional change
    wait for a concurrent one instead of failing, and a conditional one see the etag that one left."""

    def __init__(
        self, uow: ProductUnitOfWork, clock: Clock, *, outcomes: CatalogueOutcomes = NO_OUTCOMES
    ) -> None:
        super().__init__(uow)
        self.clock = clock
        self.outcomes = outcomes

    def _change(self, operation: str, product_id: str, change: Callable[[Product], None]) -> Product:
        try:
            product = self._locked(UUID(product_id))
            change(product)
            saved = self.uow.products.save(product)
            if saved is None:  # cannot happen under the row lock; never write over what we did not read
                raise StaleEtag(product.product_id)
        except (StaleEtag, NotFound, FailedPrecondition) as refusal:
            # A refusal rolls back and ends the call: counted now.
            self.outcomes.change(operation, _result(refusal))
            raise
        self.uow.after_commit(lambda: self.outcomes.change(operation, CHANGED))
        return saved

    def _locked(self, product_id: UUID) -> Product:
        product = self.uow.products.get_for_update(product_id)
        if product is None:
            raise ProductNotFound([product_id])
        return product


def _result(refusal: AppError) -> str:
    if isinstance(refusal, StaleEtag):
        return STALE_ETAG
    return NOT_FOUND if isinstance(refusal, NotFound) else FAILED_PRECONDITION


class UpdateProductHandler(CatalogueChange):
    def handle(self, command: UpdateProduct) -> Product:
        changes, now, etag = command.changes(), self.clock(), command.etag
        return self._change(UPDATE, command.product_id, lambda p: p.update(changes, now, etag=etag))


class DeleteProductHandler(CatalogueChange):
    def handle(self, command: DeleteProduct) -> Product:
        now = self.clock()
        return self._change(DELETE, command.product_id, lambda p: p.delete(now, etag=command.etag))


class UndeleteProductHandler(CatalogueChange):
    def handle(self, command: UndeleteProduct) -> Product:
        now = self.clock()
        return self._change(UNDELETE, command.product_id, lambda p: p.undelete(now, etag=command.etag))
