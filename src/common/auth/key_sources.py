"""Where verification keys come from: a fixed set (a local file) or an identity provider's JWKS URL.

Looking a key up never does I/O, so it is safe on an event loop. A JWKS fetch runs on a thread of its
own, one at a time, never on a pool that calls share: ``fetch_for`` starts one when a token needs it and
hands back what to wait on, or None when waiting cannot help. A call whose key is known never waits (a
stale key set is refreshed behind it); a call with an unknown kid waits on the fetch in flight, if fewer
than ``max_waiters`` do already, else it is decided at once without the key. So a flood of made-up kids
while the provider is slow holds at most ``max_waiters`` calls, and never a known caller's.
"""

from __future__ import annotations

import threading
import time
import urllib.request
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path
from typing import Protocol
from urllib.parse import urlsplit

from loguru import logger

from common.auth.keys import KeyMap, VerificationKey, load_key_file, read_jwks

MAX_JWKS_BYTES = 1024 * 1024
# How long a fetch may take in all (connecting, the answer, the body), and so how long a call with an
# unknown kid waits for one.
FETCH_TIMEOUT_S = 5.0
# Calls with an unknown kid that may wait on one fetch: a key rotation's first callers get the new key,
# a flood of made-up kids holds no more than this many of the server's concurrent calls.
MAX_FETCH_WAITERS = 16


class NoUsableKeys(ValueError):
    """The provider answered with a document that holds no key a token could be verified with."""


class KeySource(Protocol):
    @property
    def generation(self) -> int:
        """Moves on whenever the key set changes (verified-token caches key on it)."""

    def key(self, kid: str | None) -> VerificationKey | None:
        """The cached key for ``kid``; no I/O."""

    def fetch_for(self, kid: str | None) -> Future[None] | None:
        """No I/O, never blocks: the fetch a call with ``kid`` should wait for before it decides, or
        None when it should decide now with the keys known (its key is known, or no fetch may help)."""

    def close(self) -> None:
        """No fetch starts any more; one in flight is waited for (at most its timeout)."""


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
        key_set = load_key_file(path)
        key_set.warn_skipped(str(path))
        return cls(key_set.keys)

    def key(self, kid: str | None) -> VerificationKey | None:
        return lookup(self._keys, kid)

    def fetch_for(self, kid: str | None) -> Future[None] | None:
        return None

    def close(self) -> None:
        pass


class RemoteJwks:
    """An identity provider's JWKS, cached; re-fetched when stale or on an unknown kid, at most every
    ``min_refetch_interval_s`` so a flood of tokens with made-up kids cannot hammer the provider. A
    fetch that fails, or brings no usable key, keeps the keys already known."""

    def __init__(
        self,
        url: str,
        *,
        min_refetch_interval_s: float = 5.0,
        max_age_s: float = 300.0,
        timeout_s: float = FETCH_TIMEOUT_S,
        max_waiters: int = MAX_FETCH_WAITERS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if urlsplit(url).scheme not in ("http", "https"):
            raise ValueError("the JWKS URL must be http:// or https://")
        self._url = url
        self._min_interval = min_refetch_interval_s
        self._max_age = max_age_s
        self._timeout = timeout_s
        self._max_waiters = max_waiters
        self._clock = clock
        self._keys: KeyMap = {}
        self._document: bytes | None = None
        self.generation = 0
        # Guards the fields below; held for a few instructions, never during I/O.
        self._lock = threading.Lock()
        self._fetched_at: float | None = None  # last fetch that brought a usable key set
        self._attempted_at: float | None = None  # end of the last attempt, whatever its outcome
        self._in_flight: Future[None] | None = None
        self._waiters = 0  # calls waiting on the fetch in flight
        self._thread: threading.Thread | None = None  # the last fetch's
        self._closed = False

    def key(self, kid: str | None) -> VerificationKey | None:
        return lookup(self._keys, kid)

    def fetch_for(self, kid: str | None) -> Future[None] | None:
        known = self.key(kid) is not None
        with self._lock:
            if self._closed:
                return None
            if known:
                if self._in_flight is None and self._stale() and self._allowed():
                    self._start()  # refreshed behind the call, which goes on with the key it has
                return None
            if self._in_flight is None:
                if not self._allowed():
                    return None
                self._start()
            if self._waiters >= self._max_waiters:
                return None
            self._waiters += 1
            return self._in_flight

    def close(self) -> None:
        """The server has stopped: no fetch outlives it (one in flight ends within its timeout)."""
        with self._lock:
            self._closed = True
            thread = self._thread
        if thread is not None:
            thread.join(self._timeout + 1.0)

    def load_at_start(self) -> int:
        """Blocking, once before serving: the provider's keys, so that a URL serving no usable key
        stops the start (NoUsableKeys) instead of refusing every call. A provider that cannot be reached
        is only a WARNING: it may come up after us, and the keys are fetched when a token needs them."""
        try:
            document = self._download()
            key_set = read_jwks(document)
        except OSError as error:
            logger.warning(
                "JWKS not fetched from {} at start: {}; fetching it when a token needs it", self._url, error
            )
            return 0
        except ValueError as error:  # it answered, with something that is no key set (or far too large)
            raise NoUsableKeys(str(error)) from None
        if not key_set.keys:
            raise NoUsableKeys(key_set.no_usable_key())
        key_set.warn_skipped(self._url)
        self._install(document, key_set.keys)
        return len(key_set.keys)

    def _start(self) -> None:
        """Under the lock: a fetch on a thread of its own (it may hang for its whole timeout; neither
        the event loop nor the threads that run database work may pay for that)."""
        fetch: Future[None] = Future()
        fetch.set_running_or_notify_cancel()
        self._in_flight, self._waiters = fetch, 0
        self._thread = threading.Thread(target=self._fetch, args=(fetch,), name="jwks-fetch", daemon=True)
        self._thread.start()

    def _fetch(self, fetch: Future[None]) -> None:
        try:
            document = self._download()
            key_set = read_jwks(document)
            key_set.warn_skipped(self._url)
            if key_set.keys:
                self._install(document, key_set.keys)
            else:
                # A provider mid-rotation or misconfigured: locking every caller out would not help.
                logger.warning(
                    "JWKS from {} serves no usable signing key; keeping the {} keys already known",
                    self._url,
                    len(self._keys),
                )
        except (OSError, ValueError) as error:
            # Keep the keys we have: a provider hiccup must not lock every caller out.
            logger.warning("JWKS fetch from {} failed: {}", self._url, error)
        finally:
            with self._lock:
                self._attempted_at = self._clock()
                self._in_flight = None
            fetch.set_result(None)  # after the keys are in place: the waiters look them up next

    def _install(self, document: bytes, keys: KeyMap) -> None:
        with self._lock:
            self._fetched_at = self._attempted_at = self._clock()
            if document != self._document:
                self._keys = keys  # one assignment: readers on other threads see the old or the new set
                self._document = document
                self.generation += 1
        logger.info("JWKS fetched from {}: {} signing keys", self._url, len(keys))

    def _download(self) -> bytes:
        """The document, within ``timeout_s`` in all: a provider dripping bytes cannot hold the fetch
        (and the calls waiting on it) for longer."""
        deadline = time.monotonic() + self._timeout
        request = urllib.request.Request(self._url, headers={"Accept": "application/json"})
        body = bytearray()
        with urllib.request.urlopen(request, timeout=self._timeout) as response:
            while chunk := response.read1(64 * 1024):
                body += chunk
                if len(body) > MAX_JWKS_BYTES:
                    raise ValueError(f"JWKS larger than {MAX_JWKS_BYTES} bytes")
                if time.monotonic() > deadline:
                    raise TimeoutError(f"no complete answer within {self._timeout:g} s")
        return bytes(body)

    def _allowed(self) -> bool:
        return self._attempted_at is None or self._clock() - self._attempted_at >= self._min_interval

    def _stale(self) -> bool:
        return self._fetched_at is None or self._clock() - self._fetched_at >= self._max_age
