"""The client side's service token, read from a file that is re-read when it changes (rotation by a
sidecar or an operator needs no restart)."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from pathlib import Path


class TokenFile:
    def __init__(
        self, path: Path, *, check_interval_s: float = 1.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._path = path
        # A stat per call is cheap but not free: look at the file at most this often.
        self._check_interval = check_interval_s
        self._clock = clock
        self._lock = threading.Lock()
        self._stamp: tuple[int, int, int] | None = None
        self._checked_at: float | None = None
        self._token = ""

    def current(self) -> str:
        """The token in the file (surrounding whitespace removed); OSError/ValueError when unusable."""
        now = self._clock()
        with self._lock:
            if self._checked_at is None or now - self._checked_at >= self._check_interval:
                self._reload_if_changed()
                self._checked_at = now
            return self._token

    def _reload_if_changed(self) -> None:
        stat = os.stat(self._path)
        # Inode too: an atomic rename within the same mtime tick is still a change.
        stamp = (stat.st_mtime_ns, stat.st_size, stat.st_ino)
        if stamp == self._stamp:
            return
        token = self._path.read_text(encoding="utf-8").strip()
        if not token or any(ch.isspace() for ch in token):
            raise ValueError(f"{self._path} does not hold a single token")
        self._token, self._stamp = token, stamp
