"""A service's own bearer token for its outgoing calls: the Order service presents its token
to the Product service, never a customer's. The file is re-read when it changes; a file that turns
unusable keeps the last good token (a rotation may be half done) and the Product service decides whether
it still holds.

Metadata given at the call site, not a client interceptor: on grpc.aio each interceptor adds a task and
a wrapped call to every outgoing RPC, a cost this does not need.
"""

from __future__ import annotations

from pathlib import Path

from loguru import logger

from common.auth.token_file import TokenFile
from common.auth.tokens import METADATA_KEY

Metadata = tuple[tuple[str, str], ...]


class ServiceToken:
    def __init__(self, tokens: TokenFile) -> None:
        self._tokens = tokens
        self._last_good: str | None = None
        self._metadata: Metadata = ()
        self._warned: str | None = None

    @classmethod
    def from_file(cls, path: Path | None) -> ServiceToken | None:
        return None if path is None else cls(TokenFile(path))

    def metadata(self) -> Metadata:
        """``(("authorization", "Bearer <token>"),)``, or nothing before any usable token was read."""
        try:
            token = self._tokens.current()
            self._warned = None
        except (OSError, ValueError) as error:
            problem = f"{type(error).__name__}: {error}"
            if problem != self._warned:  # once per problem, not once per call
                self._warned = problem
                logger.warning("service token file unusable ({}); keeping the last good token", problem)
            return self._metadata
        if token != self._last_good:
            self._last_good, self._metadata = token, ((METADATA_KEY, f"Bearer {token}"),)
        return self._metadata
