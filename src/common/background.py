"""Tasks on the server's event loop that run a step periodically until stopped; a failing step is
logged, not fatal. ``wake`` runs the next step at once (from any thread: e.g. after a commit that
left work for the task)."""

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
        self._woken = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start on the running loop (the server's)."""
        self._stopping = asyncio.Event()
        self._woken = asyncio.Event()
        self._loop = asyncio.get_running_loop()
        self._task = self._loop.create_task(self._run(), name=self._name)

    def wake(self) -> None:
        """Run the next step now rather than at the end of the interval; safe from any thread, and a
        no-op before ``start`` or after ``stop``."""
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            self._woken.set()
        else:
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                loop.call_soon_threadsafe(self._woken.set)

    async def stop(self, timeout_s: float = 10.0) -> None:
        """Let the step in progress finish (up to ``timeout_s``, then cancel it)."""
        self._stopping.set()
        self._woken.set()
        if self._task is None:
            return
        try:
            await asyncio.wait_for(asyncio.shield(self._task), timeout_s)
        except asyncio.TimeoutError:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._loop = None

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    async def _run(self) -> None:
        while not self._stopping.is_set():
            self._woken.clear()
            try:
                await self._step()
            except Exception:
                # A database or network outage must not kill the worker: the next tick tries again.
                logger.exception("{} failed; retrying in {} s", self._name, self._interval)
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._woken.wait(), self._interval)
