"""Recently verified tokens, so a caller that sends the same token on every call (the Order service's
own token, a customer's session) pays for the signature check about once a minute, not on every call.

An entry ends at the token's expiry (plus the leeway ``jwt.decode`` allows), after ``ttl_s`` so key
refreshes and withdrawals are seen again, or when the key set changes (its generation moves on).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from common.auth.principal import Principal


@dataclass(frozen=True)
class _Entry:
    principal: Principal
    valid_until: float
    key_generation: int


class VerifiedTokens:
    def __init__(
        self, *, max_entries: int = 4096, ttl_s: float = 60.0, clock: Callable[[], float] = time.time
    ) -> None:
        self._max_entries = max_entries
        self._ttl = ttl_s
        self._clock = clock
        self._entries: dict[str, _Entry] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, token: str, key_generation: int) -> Principal | None:
        entry = self._entries.get(token)
        if entry is None:
            return None
        if entry.key_generation != key_generation or self._clock() >= entry.valid_until:
            with self._lock:
                self._entries.pop(token, None)
            return None
        return entry.principal

    def put(self, token: str, principal: Principal, *, expires_at: float, key_generation: int) -> None:
        if self._max_entries <= 0:
            return
        valid_until = min(expires_at, self._clock() + self._ttl)
        with self._lock:
            while len(self._entries) >= self._max_entries:
                del self._entries[next(iter(self._entries))]  # the oldest insertion
            self._entries[token] = _Entry(principal, valid_until, key_generation)
