"""Where verification keys come from: a fixed set (a local file) or an identity provider's JWKS URL.

Looking a key up never does I/O, so it is safe on an event loop. Fetching is a separate, blocking call
(``fetch``) that a caller runs only when ``wants_fetch`` says so: inline in a thread-pool server, through
``asyncio.to_thread`` in an aio one.
"""

from __future__ import annotations

import threading
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Protocol
from urllib.parse import urlsplit

from loguru import logger

from common.auth.keys import KeyMap, VerificationKey, load_key_file, parse_jwks

MAX_JWKS_BYTES = 1024 * 1024


class KeySource(Protocol):
    @property
    def generation(self) -> int:
        """Moves on whenever the key set changes (verified-token caches key on it)."""

    def key(self, kid: str | None) -> VerificationKey | None:
        """The cached key for ``kid``; no I/O."""

    def wants_fetch(self, kid: str | None) -> bool:
        """Whether ``fetch`` may bring ``kid`` (unknown or stale keys, and the rate limit allows); no I/O."""

    def fetch(self) -> None:
        """Blocking: refresh the keys. Never raises; a failure keeps the keys already known."""


def lookup(keys: KeyMap, kid: str | None) -> VerificationKey | None:
    found = keys.get(kid or "")
    if found is None and len(keys) == 1 and "" in keys:
        # A PEM key, or a one-key JWKS without kids: it is the key, whatever the token names.
        return keys[""]
    return found


class StaticKeys:
    """Keys read once from a JWKS file or a PEM public key."""

    generation = 0

    def __init__(self, keys: KeyMap) -> None:
        self._keys = keys

    @classmethod
    def from_file(cls, path: Path) -> StaticKeys:
        return cls(load_key_file(path))

    @property
    def empty(self) -> bool:
        return not self._keys

    def key(self, kid: str | None) -> VerificationKey | None:
        return lookup(self._keys, kid)

    def wants_fetch(self, kid: str | None) -> bool:
        return False

    def fetch(self) -> None:
        return None


class RemoteJwks:
    """An identity provider's JWKS, cached; re-fetched when stale or on an unknown kid, at most every
    ``min_refetch_interval_s`` so a flood of tokens with made-up kids cannot hammer the provider."""

    def __init__(
        self,
        url: str,
        *,
        min_refetch_interval_s: float = 5.0,
        max_age_s: float = 300.0,
        timeout_s: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if urlsplit(url).scheme not in ("http", "https"):
            raise ValueError("the JWKS URL must be http:// or https://")
        self._url = url
        self._min_interval = min_refetch_interval_s
        self._max_age = max_age_s
        self._timeout = timeout_s
        self._clock = clock
        self._keys: KeyMap = {}
        self._fetched_at: float | None = None  # last successful fetch
        self._attempted_at: float | None = None  # last attempt, successful or not
        self._lock = threading.Lock()
        self._document: bytes | None = None
        self.generation = 0

    def key(self, kid: str | None) -> VerificationKey | None:
        return lookup(self._keys, kid)

    def wants_fetch(self, kid: str | None) -> bool:
        return self._allowed() and (self.key(kid) is None or self._stale())

    def fetch(self) -> None:
        # Concurrent misses queue here; the first one fetches, the rest find the attempt just made and
        # use its keys. The attempt is stamped when it ends, so callers arriving during the download
        # still wait for it instead of giving up on a key that is on its way.
        with self._lock:
            if not self._allowed():
                return
            try:
                document = self._download()
                keys = parse_jwks(document)
            except (OSError, ValueError) as error:
                # Keep the keys we have: a provider hiccup must not lock every caller out.
                logger.warning("JWKS fetch from {} failed: {}", self._url, error)
                return
            finally:
                self._attempted_at = self._clock()
            self._fetched_at = self._attempted_at
            if document != self._document:
                self._keys = keys  # one assignment: readers on other threads see the old or the new set
                self._document = document
                self.generation += 1
            logger.info("JWKS fetched from {}: {} signing keys", self._url, len(keys))

    def _download(self) -> bytes:
        request = urllib.request.Request(self._url, headers={"Accept": "application/json"})
        with urllib.request.urlopen(request, timeout=self._timeout) as response:
            body: bytes = response.read(MAX_JWKS_BYTES + 1)
        if len(body) > MAX_JWKS_BYTES:
            raise ValueError(f"JWKS larger than {MAX_JWKS_BYTES} bytes")
        return body

    def _allowed(self) -> bool:
        return self._attempted_at is None or self._clock() - self._attempted_at >= self._min_interval

    def _stale(self) -> bool:
        return self._fetched_at is None or self._clock() - self._fetched_at >= self._max_age
