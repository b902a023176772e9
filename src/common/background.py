"""Tasks on the server's event loop that run a step periodically until stopped; a failing step is
logged, not fatal. A ``Wakeup`` runs the next step at once (set from any thread: e.g. after a commit
that left work for the task)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

from loguru import logger


class Wakeup:
    """A signal that a background task has work: ``set`` from any thread, before or after the task
    starts (a set before it starts is seen by its first wait)."""

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._event: asyncio.Event | None = None
        self._pending = False

    def attach(self) -> None:
        """Bind to the running loop (the task's)."""
        self._loop = asyncio.get_running_loop()
        self._event = asyncio.Event()
        if self._pending:
            self._event.set()

    def set(self) -> None:
        loop, event = self._loop, self._event
        if loop is None or event is None:
            self._pending = True
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            event.set()
        else:
            with contextlib.suppress(RuntimeError):  # the loop has closed meanwhile
                loop.call_soon_threadsafe(event.set)

    async def wait(self, timeout_s: float) -> None:
        """Until set, or ``timeout_s``; then clear."""
        assert self._event is not None, "attach() first"
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._event.wait(), timeout_s)
        self._event.clear()
        self._pending = False


class PeriodicWorker:
    def __init__(
        self,
        name: str,
        step: Callable[[], Awaitable[object]],
        interval_s: float,
        wakeup: Wakeup | None = None,
    ) -> None:
        self._name = name
        self._step = step
        self._interval = interval_s
        self._wakeup = wakeup or Wakeup()
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start on the running loop (the server's)."""
        self._stopping = asyncio.Event()
        self._wakeup.attach()
        self._task = asyncio.get_running_loop().create_task(self._run(), name=self._name)

    def wake(self) -> None:
        """Run the next step now rather than at the end of the interval (from any thread)."""
        self._wakeup.set()

    async def stop(self, timeout_s: float = 10.0) -> None:
        """Let the step in progress finish (up to ``timeout_s``, then cancel it)."""
        self._stopping.set()
        if self._task is None:
            return
        self._wakeup.set()
        try:
            await asyncio.wait_for(asyncio.shield(self._task), timeout_s)
        except asyncio.TimeoutError:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    async def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                await self._step()
            except Exception:
                # A database or network outage must not kill the worker: the next tick tries again.
                logger.exception("{} failed; retrying in {} s", self._name, self._interval)
            if not self._stopping.is_set():
                await self._wakeup.wait(self._interval)
