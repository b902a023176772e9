"""What the call being served carries across every layer, in context variables: its correlation id, its
deadline, its caller, and (with no tracer installed) its trace headers. This module is the only one of the
services that defines context variables (the query-counting benchmark keeps one of its own, outside them).

The server interceptors bind them, outermost first, for the whole call (``common.grpc``): the correlation
id (``x-correlation-id``, or a new one), the caller (once authenticated) and the deadline (the caller's
``timeout``). Each task the call starts sees them (asyncio copies the context), and so does a
transaction (``Database.run`` runs it in the call's context). Background work binds its own
correlation id (the outbox worker, the id of the call that queued a release; the reconciler,
``reconcile:<order id>``). Nothing else is ambient: the application gets the caller and the call's
``Origin`` in its messages and passes them on, and reads the deadline only where the rule it enforces
crosses every layer (no commit past it, no outgoing call longer than it); the event recorder reads the
correlation id at commit (``common.events.recording``: aggregates raise events knowing no call). The
trace headers are ``common.telemetry``'s: with no tracer installed, the caller's W3C headers are passed
on as they came (OpenTelemetry keeps the current span in a context of its own).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from loguru import logger

from common import correlation
from common.auth.principal import Principal

_correlation_id: ContextVar[str | None] = ContextVar("correlation_id", default=None)
_deadline: ContextVar[float | None] = ContextVar("call_deadline", default=None)  # time.monotonic()
_caller: ContextVar[Principal | None] = ContextVar("caller", default=None)
TraceHeaders = tuple[tuple[str, str], ...]
_trace_headers: ContextVar[TraceHeaders] = ContextVar("trace_headers_passed_through", default=())


@dataclass(frozen=True)
class Origin:
    """The call a piece of work comes from, kept with work done later on its behalf (a release in the
    outbox, an order the reconciler may resolve): its correlation id, and its W3C ``traceparent`` ("":
    not traced) so that the later work joins its trace."""

    correlation_id: str
    trace_context: str = ""

    @staticmethod
    def new() -> Origin:
        """Work of no call (a test's, a tool's): a fresh correlation id, no trace."""
        return Origin(correlation.new_id())


def correlation_id() -> str | None:
    return _correlation_id.get()


@contextmanager
def correlation_bound(cid: str) -> Iterator[str]:
    """Make ``cid`` the current correlation id and put it on every log line written inside the block."""
    token = _correlation_id.set(cid)
    try:
        with logger.contextualize(correlation_id=cid):
            yield cid
    finally:
        _correlation_id.reset(token)


def time_remaining() -> float | None:
    """Seconds left before the current call's deadline; None when there is none."""
    at = _deadline.get()
    return None if at is None else at - time.monotonic()


@contextmanager
def deadline_bound(time_remaining_s: float | None) -> Iterator[None]:
    """Make ``time_remaining_s`` from now (None: no deadline) the current call's deadline."""
    token = _deadline.set(None if time_remaining_s is None else time.monotonic() + time_remaining_s)
    try:
        yield
    finally:
        _deadline.reset(token)


def caller() -> Principal | None:
    """The authenticated caller; None with authentication off (or outside a call)."""
    return _caller.get()


@contextmanager
def caller_bound(principal: Principal | None) -> Iterator[Principal | None]:
    """Make ``principal`` the current call's caller inside the block."""
    token = _caller.set(principal)
    try:
        yield principal
    finally:
        _caller.reset(token)


def trace_headers() -> TraceHeaders:
    """The caller's W3C trace headers, bound while no tracer is installed (see ``common.telemetry``)."""
    return _trace_headers.get()


@contextmanager
def trace_headers_bound(headers: TraceHeaders) -> Iterator[None]:
    token = _trace_headers.set(headers)
    try:
        yield
    finally:
        _trace_headers.reset(token)
