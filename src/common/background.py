"""Tasks on the server's event loop that run a step periodically until stopped; a failing step is
logged, not fatal."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

from loguru import logger


class PeriodicWorker:
    def __init__(self, name: str, step: Callable[[], Awaitable[object]], interval_s: float) -> None:
        self._name = name
        self._step = step
        self._interval = interval_s
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start on the running loop (the server's)."""
        self._stopping = asyncio.Event()
        self._task = asyncio.get_running_loop().create_task(self._run(), name=self._name)

    async def stop(self, timeout_s: float = 10.0) -> None:
        """Let the step in progress finish (up to ``timeout_s``, then cancel it)."""
        self._stopping.set()
        if self._task is None:
            return
        try:
            await asyncio.wait_for(asyncio.shield(self._task), timeout_s)
        except asyncio.TimeoutError:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                await self._step()
            except Exception:
                # A database or network outage must not kill the worker: the next tick tries again.
                logger.exception("{} failed; retrying in {} s", self._name, self._interval)
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self._interval)
