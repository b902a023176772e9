"""A small asynchronous mediator: one handler per message type, wrapped by pipeline behaviours.

Handlers are registered as *factories* and built per dispatch, so each call gets its own handler and
unit of work (nothing is shared between calls in flight on the event loop).

Typed at both ends: a message declares what it answers (``class CreateOrder(Command[Order])``), so
``send`` returns an ``Order`` to the servicer; and ``register(CreateOrder, factory)`` (how the containers
fill the table) is refused by the type checker unless the factory's handler takes a ``CreateOrder`` and
answers an ``Order`` (``async`` or not).
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar, overload

R = TypeVar("R")
R_co = TypeVar("R_co", covariant=True)


class Request(Generic[R_co]):
    """A message with a result type. ``validate`` raises ``InvalidArgument``; the default accepts all."""

    def validate(self) -> None:
        return None

    @classmethod
    def answers(cls) -> R_co:
        """For the type checker only (``register`` reads it): what a handler of this message returns."""
        raise NotImplementedError


class Command(Request[R_co]):
    """Changes state: dispatched inside a read-write unit of work."""


class Query(Request[R_co]):
    """Reads state: dispatched inside a read-only unit of work."""


class Handler(Protocol):
    """``handle`` is ``async`` for a handler that owns its transactions, a plain function (the
    transaction's body) for one the pipeline runs in a transaction (see common/transactions.py)."""

    def handle(self, message: Any) -> Any: ...


HandlerFactory = Callable[[], Handler]
M = TypeVar("M", bound=Request[Any])
M_co = TypeVar("M_co", covariant=True)
M_contra = TypeVar("M_contra", contravariant=True)


class MessageClass(Protocol[M_co, R_co]):
    """A message class as ``register`` sees it: what it builds, and what its handler answers."""

    def __call__(self, *args: Any, **kwargs: Any) -> M_co: ...
    def answers(self) -> R_co: ...


class SyncHandler(Protocol[M_contra, R_co]):
    """A handler whose ``handle`` is a transaction's body (``OneTransaction``)."""

    def handle(self, message: M_contra, /) -> R_co: ...


class AsyncHandler(Protocol[M_contra, R_co]):
    """A handler that awaits between its transactions (``OwnsTransactions``)."""

    async def handle(self, message: M_contra, /) -> R_co: ...


@dataclass(frozen=True)
class Registration:
    """One row of the mediator's table: a message type and the factory of its handler."""

    message: type[Request[Any]]
    factory: HandlerFactory


@overload
def register(message: MessageClass[M, R], factory: Callable[[], AsyncHandler[M, R]]) -> Registration: ...
@overload
def register(message: MessageClass[M, R], factory: Callable[[], SyncHandler[M, R]]) -> Registration: ...
def register(message: Any, factory: Any) -> Registration:
    """``message``'s handler is what ``factory`` builds (a fresh one per dispatch); the type checker
    holds the handler to the message's type and result."""
    return Registration(message, factory)


def handler_table(*registrations: Registration) -> dict[type[Request[Any]], HandlerFactory]:
    """The mediator's table; a message registered twice is a mistake, refused."""
    table: dict[type[Request[Any]], HandlerFactory] = {}
    for registration in registrations:
        if registration.message in table:
            raise ValueError(f"{registration.message.__name__} is registered twice")
        table[registration.message] = registration.factory
    return table


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
    def __init__(
        self, handlers: Mapping[type[Request[Any]], HandlerFactory], behaviours: Sequence[Behaviour] = ()
    ) -> None:
        """``handlers``: message type -> handler factory (``handler_table`` of ``register``s)."""
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
