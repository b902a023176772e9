"""Remembering a database outage while it lasts, logged once when it starts and once when it ends.

An outage is a failure that is not this transaction's alone: a connection lost, a database that
refuses writes, a disk error. Which errors are outages is each database class's call (``fault``);
this only keeps the episode, so that readiness can follow it and the log says it once, not per call.
"""

from __future__ import annotations

import threading
import time
from typing import NamedTuple

from loguru import logger


class Generation(NamedTuple):
    """How many episodes had started and ended when a transaction began."""

    started: int
    ended: int


class Outage:
    """Whether writes are failing for a reason other than contention; logs once when an episode
    starts (with the database's own words) and once when it ends, never once per call."""

    def __init__(self, database: str) -> None:
        self._database = database
        self._lock = threading.Lock()
        self._since: float | None = None
        self._started = 0
        self._ended = 0

    @property
    def ongoing(self) -> bool:
        return self._since is not None

    @property
    def generation(self) -> Generation:
        """How many episodes have started and ended: a transaction notes it when it begins."""
        return Generation(self._started, self._ended)

    def begin(self, cause: BaseException | str, began_in: Generation | None = None) -> None:
        """Start an episode, unless one is on; ``cause`` is the error seen, or what was found.
        ``began_in``: the generation the failed transaction began in. A transaction that began before
        the last episode ended and fails now met that episode (its connection was lost with the others,
        the pool has been emptied since): it starts no new one."""
        with self._lock:
            if self._since is not None or (began_in is not None and began_in.ended < self._ended):
                return
            self._since = time.monotonic()
            self._started += 1
        if isinstance(cause, BaseException):
            error = getattr(cause, "orig", None) or cause
            cause = f"{type(error).__name__}: {str(error).strip()}"
        logger.warning(
            "database {} failing ({}); not ready until it takes writes again", self._database, cause
        )

    def end(self, began_in: Generation | None = None) -> bool:
        """Close the episode; True if there was one. ``began_in``: the generation the transaction whose
        write worked began in. One that began before the episode started (its commit landed just as
        the server went) proves nothing of now: it ends none, or a restart would log two episodes."""
        with self._lock:
            if began_in is not None and began_in.started < self._started:
                return False
            since, self._since = self._since, None
            if since is not None:
                self._ended += 1
        if since is None:
            return False
        logger.warning(
            "database {} takes writes again after {:.1f} s", self._database, time.monotonic() - since
        )
        return True
