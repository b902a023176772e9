"""Server interceptors (grpc.aio), outermost first: correlation id, tracing, error mapping, call logging,
authentication (when required), deadline.

The error mapping sits outside the call logging: on grpc.aio an abort sends the status at once, so the
call's line is written first (a caller that has its answer finds the line written) and names the
status the mapping is about to send.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import grpc
from loguru import logger
from opentelemetry.metrics import Meter

from common import call_context, correlation
from common.errors import AppError, ErrorCode
from common.grpc.call_logging import call_logger
from common.grpc.call_metrics import ServerMetricsInterceptor
from common.grpc.handler_wrapping import (
    Behaviour,
    Context,
    InterceptorChain,
    UnaryServerInterceptor,
)
from common.grpc.status import ended_with, internal_status, to_grpc_status, with_trailer
from common.grpc.tracing import TracingInterceptor

_QUIET_PREFIXES = ("/grpc.health.v1.", "/grpc.reflection.")


async def _echo_correlation_id(context: Context) -> None:
    """Echo the id in the response's initial metadata.

    Sent only with responses that are not UNAVAILABLE: headers commit a call, and a committed call is
    never retried by the client's retry policy, so an UNAVAILABLE answer goes out trailers-only.
    """
    cid = call_context.correlation_id()
    if cid is not None:
        await context.send_initial_metadata(((correlation.HEADER, cid),))


def _with_correlation_id(status: grpc.Status) -> grpc.Status:
    cid = call_context.correlation_id()
    return status if cid is None else with_trailer(status, correlation.HEADER, cid)


class CorrelationIdInterceptor(UnaryServerInterceptor):
    """Takes a well-formed ``x-correlation-id`` from the caller (or makes one), binds it for the call."""

    async def around(self, behaviour: Behaviour, request: Any, context: Context, method: str) -> Any:
        received = next((v for k, v in context.invocation_metadata() if k == correlation.HEADER), None)
        with call_context.correlation_bound(correlation.accept_or_new(received)) as cid:
            context.set_trailing_metadata(((correlation.HEADER, cid),))
            response = await behaviour(request, context)
            await _echo_correlation_id(context)
            return response


class DeadlineInterceptor(UnaryServerInterceptor):
    """Makes the caller's deadline known to the unit of work (no commit after it) and to clients."""

    async def around(self, behaviour: Behaviour, request: Any, context: Context, method: str) -> Any:
        with call_context.deadline_bound(context.time_remaining()):
            return await behaviour(request, context)


class LoggingInterceptor(UnaryServerInterceptor):
    """One line per call: method, status code, duration (the correlation id comes with the context)."""

    async def around(self, behaviour: Behaviour, request: Any, context: Context, method: str) -> Any:
        started = time.perf_counter()
        error: BaseException | None = None
        try:
            return await behaviour(request, context)
        except BaseException as raised:
            error = raised
            raise
        finally:
            code = ended_with(context, error, unhandled=grpc.StatusCode.INTERNAL)  # the error mapping's
            elapsed_ms = (time.perf_counter() - started) * 1000
            level = "DEBUG" if method.startswith(_QUIET_PREFIXES) else "INFO"
            call_logger(method, code, elapsed_ms).log(
                level, "rpc {} {} {:.1f} ms", method, code.name, elapsed_ms
            )


class ErrorMappingInterceptor(UnaryServerInterceptor):
    """AppError -> its status with details; anything else -> INTERNAL with a generic message, logged."""

    async def around(self, behaviour: Behaviour, request: Any, context: Context, method: str) -> Any:
        try:
            return await behaviour(request, context)
        except AppError as error:
            if error.code is not ErrorCode.UNAVAILABLE:
                await _echo_correlation_id(context)
            await context.abort_with_status(_with_correlation_id(to_grpc_status(error)))
        except grpc.aio.AbortError:
            raise  # the servicer (or an inner interceptor) aborted on purpose, with its status
        except Exception:
            logger.exception("unexpected failure in {}", method)
            await _echo_correlation_id(context)
            await context.abort_with_status(
                _with_correlation_id(internal_status(call_context.correlation_id() or "-"))
            )


def server_interceptors(
    meter: Meter | None = None,
    auth: Sequence[UnaryServerInterceptor] = (),
    *,
    innermost: bool = True,
    methods: Sequence[str] = (),
) -> list[grpc.aio.ServerInterceptor]:
    """The services' own interceptors, outermost first, as one chain (extra ones go before it;
    ``innermost=False`` when others come after it). ``auth`` sits inside error mapping and call
    logging, so a refusal is reported and logged like any other error, and before everything that
    serves the call. ``methods``: those the server serves, which the call metrics export from start-up."""
    layers: list[UnaryServerInterceptor] = [
        CorrelationIdInterceptor(),
        # Inside the correlation id (every span carries it), outside the error mapping (sees its status).
        TracingInterceptor(),
        *([] if meter is None else [ServerMetricsInterceptor(meter, methods)]),
        ErrorMappingInterceptor(),
        LoggingInterceptor(),
        *auth,
        DeadlineInterceptor(),
    ]
    return [InterceptorChain(layers, innermost=innermost)]
