"""Daemon threads that run a step periodically until stopped; a failing step is logged, not fatal."""

from __future__ import annotations

import threading
from collections.abc import Callable

from loguru import logger


class PeriodicWorker:
    def __init__(self, name: str, step: Callable[[], object], interval_s: float) -> None:
        self._name = name
        self._step = step
        self._interval = interval_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._step()
            except Exception:
                # A database or network outage must not kill the worker: the next tick tries again.
                logger.exception("{} failed; retrying in {} s", self._name, self._interval)
            self._stop.wait(self._interval)
