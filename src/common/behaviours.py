"""Pipeline behaviours, outermost first: logging, validation, unit of work."""

from __future__ import annotations

import time
from typing import Any, Protocol

from loguru import logger

from common import deadline
from common.errors import Aborted, AppError
from common.mediator import Command, Handler, Next, Request


class UnitOfWork(Protocol):
    def __enter__(self) -> Any: ...
    def __exit__(self, *exc_info: object) -> None: ...
    def commit(self) -> None: ...


class LoggingBehaviour:
    """One DEBUG line per message; expected failures at INFO with their reason (the RPC line is elsewhere)."""

    def __call__(self, message: Request[Any], handler: Handler, call_next: Next) -> Any:
        name = type(message).__name__
        started = time.perf_counter()
        try:
            result = call_next()
        except AppError as error:
            logger.info("{} refused: {} ({})", name, error.message, error.code.value)
            raise
        logger.debug("{} handled in {:.1f} ms", name, (time.perf_counter() - started) * 1000)
        return result


class ValidationBehaviour:
    """Refuses malformed messages before any handler or database sees them."""

    def __call__(self, message: Request[Any], handler: Handler, call_next: Next) -> Any:
        message.validate()
        return call_next()


class UnitOfWorkBehaviour:
    """Runs the handler inside its unit of work: commands commit on success; anything raised rolls back.

    Work still uncommitted when the caller's deadline has passed is rolled back (DEADLINE_EXCEEDED).
    A handler whose whole work is in its transaction (no calls to other services) may declare
    ``retry_on_conflict = True``: a serialization failure or deadlock then reruns it, a bounded number
    of times, before the caller sees ABORTED.
    """

    def __init__(self, conflict_attempts: int = 3) -> None:
        self._conflict_attempts = conflict_attempts

    def __call__(self, message: Request[Any], handler: Handler, call_next: Next) -> Any:
        uow: UnitOfWork | None = getattr(handler, "uow", None)
        if uow is None:
            return call_next()
        attempts = self._conflict_attempts if getattr(handler, "retry_on_conflict", False) else 1
        for attempt in range(1, attempts + 1):
            try:
                with uow:
                    result = call_next()
                    if isinstance(message, Command):
                        if getattr(uow, "in_transaction", False):
                            # The caller gave up: its answer would go nowhere, so the work is
                            # abandoned (rolled back on the way out) rather than committed.
                            deadline.check()
                        uow.commit()
                    return result
            except Aborted:
                if attempt == attempts:
                    raise
                logger.info(
                    "{} conflicted with a concurrent change; retry {}", type(message).__name__, attempt
                )
        raise AssertionError("unreachable")


def default_pipeline() -> list[Any]:
    """Outermost first: log every message, refuse malformed ones, run the rest in a unit of work."""
    return [LoggingBehaviour(), ValidationBehaviour(), UnitOfWorkBehaviour()]
