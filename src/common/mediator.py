"""A small asynchronous mediator: one handler per message type, wrapped by pipeline behaviours.

Handlers are registered as *factories* and built per dispatch, so each call gets its own handler and
unit of work (nothing is shared between calls in flight on the event loop).
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, Generic, Protocol, TypeVar

R = TypeVar("R")
R_co = TypeVar("R_co", covariant=True)


class Request(Generic[R_co]):
    """A message with a result type. ``validate`` raises ``InvalidArgument``; the default accepts all."""

    def validate(self) -> None:
        return None


class Command(Request[R_co]):
    """Changes state: dispatched inside a read-write unit of work."""


class Query(Request[R_co]):
    """Reads state: dispatched inside a read-only unit of work."""


class Handler(Protocol):
    """``handle`` is ``async`` for a handler that owns its transactions, a plain function (the
    transaction's body) for one the pipeline runs in a transaction (see common/transactions.py)."""

    def handle(self, message: Any) -> Any: ...


HandlerFactory = Callable[[], Handler]
Next = Callable[[], Awaitable[Any]]


class Behaviour(Protocol):
    """A step of the pipeline: does its part around ``await call_next()`` (which runs the rest)."""

    async def __call__(self, message: Request[Any], handler: Handler, call_next: Next) -> Any: ...


class UnknownMessage(LookupError):
    pass


async def call_handler(handler: Handler, message: Request[Any]) -> Any:
    """The end of the pipeline: the handler's answer, awaited when it is a coroutine."""
    result = handler.handle(message)
    return await result if inspect.isawaitable(result) else result


class Mediator:
    def __init__(self, handlers: Mapping[type, HandlerFactory], behaviours: Sequence[Behaviour] = ()) -> None:
        self._handlers = dict(handlers)
        self._behaviours = tuple(behaviours)

    async def send(self, message: Request[R]) -> R:
        try:
            factory = self._handlers[type(message)]
        except KeyError:
            raise UnknownMessage(f"no handler registered for {type(message).__name__}") from None
        handler = factory()

        async def run(index: int) -> Any:
            if index == len(self._behaviours):
                return await call_handler(handler, message)
            return await self._behaviours[index](message, handler, lambda: run(index + 1))

        result: R = await run(0)
        return result
