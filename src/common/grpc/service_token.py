"""A service's own bearer token on its outgoing calls (issue 16): the Order service presents its token
to the Product service, never the customer's; the outbox worker and the reconciler share its channel,
so they call as the same service."""

from __future__ import annotations

from typing import Any

import grpc
from loguru import logger

from common.auth.token_file import TokenFile
from common.auth.tokens import METADATA_KEY
from common.grpc.client_interceptors import Continuation


class ServiceTokenClientInterceptor(grpc.aio.UnaryUnaryClientInterceptor):
    """Replaces any ``authorization`` on the call with ``Bearer <the token in the file>``; the file is
    re-read when it changes. A file that turns unusable keeps the last good token (the provider may be
    mid-rotation); the Product service decides whether it still holds."""

    def __init__(self, tokens: TokenFile) -> None:
        self._tokens = tokens
        self._last_good: str | None = None
        self._warned: str | None = None

    async def intercept_unary_unary(
        self, continuation: Continuation, client_call_details: grpc.aio.ClientCallDetails, request: Any
    ) -> Any:
        metadata = grpc.aio.Metadata(
            *((k, v) for k, v in (client_call_details.metadata or ()) if k != METADATA_KEY)
        )
        token = self._token()
        if token is not None:
            metadata.add(METADATA_KEY, f"Bearer {token}")
        details = grpc.aio.ClientCallDetails(
            client_call_details.method,
            client_call_details.timeout,
            metadata,
            client_call_details.credentials,
            client_call_details.wait_for_ready,
        )
        return await continuation(details, request)

    def _token(self) -> str | None:
        try:
            self._last_good = self._tokens.current()
            self._warned = None
        except (OSError, ValueError) as error:
            problem = f"{type(error).__name__}: {error}"
            if problem != self._warned:  # once per problem, not once per call
                self._warned = problem
                logger.warning("service token file unusable ({}); keeping the last good token", problem)
        return self._last_good
