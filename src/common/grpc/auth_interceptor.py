"""Authentication on the server: who is calling, and may they call this method, before any handler runs.

Sits inside the correlation id, call logging and error mapping interceptors: a refusal is an AppError
like any other, so it carries the caller's correlation id, gets a ``rpc … UNAUTHENTICATED`` call line and
a status with a readable message. It also writes one line of its own naming the caller's subject (never
the token), and counts every refusal, its own and the handlers' (another customer's order), in
``eshop.auth.refusals`` (``eshop_auth_refusals_total{grpc_method, grpc_status}`` in Prometheus). The
principal is bound for the handler (``common.call_context.caller()``), and its subject is on every
line the handler logs.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from concurrent.futures import Future
from typing import Any

from loguru import logger
from opentelemetry.metrics import Meter

from common import call_context
from common.auth.authenticate import Authenticator, authorization_from
from common.auth.key_sources import FETCH_TIMEOUT_S
from common.auth.policy import AccessPolicy
from common.auth.principal import Principal
from common.errors import AppError, PermissionDenied, Unauthenticated
from common.grpc.handler_wrapping import Behaviour, Context, UnaryServerInterceptor
from common.metrics import counter_from_zero, label_sets

ANONYMOUS = "-"
REFUSAL_CODES = (Unauthenticated.code.value, PermissionDenied.code.value)


class AuthInterceptor(UnaryServerInterceptor):
    """Authenticates (bearer JWT and/or verified client certificate) and applies the access table.

    Every method of our services is unary; the streaming ones the server carries (health Watch,
    reflection) are public in every policy, so passing streams through untouched opens nothing.
    """

    def __init__(
        self,
        authenticator: Authenticator,
        policy: AccessPolicy,
        meter: Meter | None = None,
        methods: Sequence[str] = (),
    ) -> None:
        """``methods``: the service's, each exported at 0 from start-up with both refusal codes."""
        self._authenticator = authenticator
        self._policy = policy
        self._refusals = (
            None
            if meter is None
            else counter_from_zero(
                meter,
                "eshop.auth.refusals",
                unit="{call}",
                description="Calls refused UNAUTHENTICATED or PERMISSION_DENIED, by method and status",
                known=label_sets(**{"grpc.method": methods, "grpc.status": REFUSAL_CODES}),
            )
        )

    async def around(self, behaviour: Behaviour, request: Any, context: Context, method: str) -> Any:
        if self._policy.is_public(method):
            return await behaviour(request, context)
        caller: Principal | None = None
        try:
            authorization = authorization_from(context.invocation_metadata())
            fetch = self._authenticator.pending_fetch(authorization)
            if fetch is not None:
                await _arrival(fetch, FETCH_TIMEOUT_S)
            caller = self._authenticator.authenticate(authorization, context.auth_context())
            self._policy.decide(method, caller)
        except (Unauthenticated, PermissionDenied) as refusal:
            _log_refusal(method, caller, refusal)
            self._count(method, refusal)
            raise
        assert caller is not None  # decide() refuses a caller with no credentials
        # Every line the handler writes names the caller (a refusal the handler makes, e.g. another
        # customer's order, included).
        with call_context.caller_bound(caller), logger.contextualize(subject=caller.subject):
            try:
                return await behaviour(request, context)
            except (Unauthenticated, PermissionDenied) as refusal:
                self._count(method, refusal)
                raise

    def _count(self, method: str, refusal: AppError) -> None:
        if self._refusals is not None:
            self._refusals.add(1, {"grpc.method": method.lstrip("/"), "grpc.status": refusal.code.value})


def _log_refusal(method: str, caller: Principal | None, refusal: AppError) -> None:
    subject = caller.subject if caller is not None else ANONYMOUS
    logger.bind(subject=subject, grpc_method=method.lstrip("/"), grpc_code=refusal.code.value).warning(
        "refused {} for {}: {} {}", method, subject, refusal.code.value, refusal.message
    )


async def _arrival(fetch: Future[None], timeout_s: float) -> None:
    """Wait, without blocking the loop or holding a thread, until the key fetch ends or ``timeout_s``
    passes. Leaving early (the caller gave up) must not cancel the fetch other calls share, as
    ``asyncio.wrap_future`` would."""
    loop = asyncio.get_running_loop()
    ended: asyncio.Future[None] = loop.create_future()

    def end() -> None:
        if not ended.done():  # not when the wait timed out or was cancelled
            ended.set_result(None)

    def wake(_: Future[None]) -> None:
        with contextlib.suppress(RuntimeError):  # the loop closed meanwhile: nobody is waiting
            loop.call_soon_threadsafe(end)

    fetch.add_done_callback(wake)
    with contextlib.suppress(asyncio.TimeoutError):
        await asyncio.wait_for(ended, timeout_s)
