"""Pipeline behaviours, outermost first: logging, validation, unit of work (always the innermost: for
a ``OneTransaction`` handler it runs ``handle`` itself, as the transaction's body)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable
from typing import Any

from loguru import logger

from common.errors import Aborted, AppError
from common.mediator import Command, Handler, Next, Request
from common.transactions import (
    OneTransaction,
    OwnsTransactions,
    UndeclaredTransaction,
    UnitOfWork,
    commit_in_time,
)


class LoggingBehaviour:
    """One DEBUG line per message; expected failures at INFO with their reason (the RPC line is elsewhere)."""

    async def __call__(self, message: Request[Any], handler: Handler, call_next: Next) -> Any:
        name = type(message).__name__
        started = time.perf_counter()
        try:
            result = await call_next()
        except AppError as error:
            logger.info("{} refused: {} ({})", name, error.message, error.code.value)
            raise
        logger.debug("{} handled in {:.1f} ms", name, (time.perf_counter() - started) * 1000)
        return result


class ValidationBehaviour:
    """Refuses malformed messages before any handler or database sees them."""

    async def __call__(self, message: Request[Any], handler: Handler, call_next: Next) -> Any:
        message.validate()
        return await call_next()


class UnitOfWorkBehaviour:
    """Has the database adapter run a ``OneTransaction`` handler's (synchronous) ``handle`` as one
    transaction: commands commit on success (unless the caller's deadline has passed); anything raised
    rolls back. Being the transaction's body, ``handle`` is called here, so this behaviour is the
    innermost. A handler that declares
    ``retry_on_conflict`` is rerun on a conflict, a bounded number of times, before the caller sees
    ABORTED. ``OwnsTransactions`` handlers run as they are; a handler of neither kind is refused.
    """

    def __init__(self, conflict_attempts: int = 3, owned: OwnedWork | None = None) -> None:
        self._conflict_attempts = conflict_attempts
        self._owned = OwnedWork() if owned is None else owned

    async def __call__(self, message: Request[Any], handler: Handler, call_next: Next) -> Any:
        if isinstance(handler, OwnsTransactions):
            # grpc.aio cancels a call whose caller left; an owned sequence of transactions still runs to
            # its own end (each step bounded by the caller's deadline), so it is never cut between a
            # commit and the step that completes or compensates it.
            return await asyncio.shield(self._owned.start(call_next()))
        if not isinstance(handler, OneTransaction):
            raise UndeclaredTransaction(
                f"{type(handler).__name__} (for {type(message).__name__}) must derive from OneTransaction "
                "(the pipeline commits its work) or OwnsTransactions (it commits its work itself)"
            )
        uow: UnitOfWork = handler.uow
        attempts = self._conflict_attempts if handler.retry_on_conflict else 1
        commits = isinstance(message, Command)

        def transaction() -> Any:
            result = handler.handle(message)
            if commits:
                commit_in_time(uow)
            return result

        for attempt in range(1, attempts + 1):
            try:
                return await uow.run(transaction)
            except Aborted:
                if attempt == attempts:
                    raise
                logger.info(
                    "{} conflicted with a concurrent change; retry {}", type(message).__name__, attempt
                )
        raise AssertionError("unreachable")


class OwnedWork:
    """The handlers' work shielded from their callers' cancellation: it outlives its call, not the
    server. ``drain`` at stop, after the server's own grace, before the database closes."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Future[Any]] = set()

    @property
    def running(self) -> int:
        return len(self._tasks)

    def start(self, work: Awaitable[Any]) -> asyncio.Future[Any]:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        task.add_done_callback(_retrieve)
        return task

    async def drain(self, timeout_s: float) -> None:
        """Wait up to ``timeout_s`` for the work still running, then cancel the rest: what that leaves
        half done is what a crash would, and the reconciler resolves it."""
        if not self._tasks:
            return
        _, left = await asyncio.wait(set(self._tasks), timeout=timeout_s)
        if not left:
            return
        logger.warning("{} handler task(s) still running at stop: cancelled", len(left))
        for task in left:
            task.cancel()
        await asyncio.wait(left)


def _retrieve(task: asyncio.Future[Any]) -> None:
    """The outcome of owned work whose caller left goes nowhere (it was logged): no asyncio warning."""
    if not task.cancelled():
        task.exception()


def default_pipeline(owned: OwnedWork | None = None) -> list[Any]:
    """Outermost first: log every message, refuse malformed ones, run the rest in a unit of work
    (handlers' owned work kept in ``owned``, for the server to drain at stop)."""
    return [LoggingBehaviour(), ValidationBehaviour(), UnitOfWorkBehaviour(owned=owned)]
