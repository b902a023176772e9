"""Telling a broken database connection from a busy one, and remembering an outage while it lasts.

A connection-level error (SQLite opened the file read-only, a disk error, a PostgreSQL backend killed
or a server restarted) means the connection must not be used again, and the database cannot take
writes until shown otherwise. Contention (a lock held elsewhere, a serialization failure, a statement
timeout) means only that this transaction lost: nothing to repair, no outage.
"""

from __future__ import annotations

import threading
import time

from loguru import logger
from sqlalchemy.exc import DBAPIError, OperationalError

# PostgreSQL: serialization_failure, deadlock_detected, lock_not_available, query_canceled.
_CONTENTION_SQLSTATES = {"40001", "40P01", "55P03", "57014"}


def is_contention(error: BaseException) -> bool:
    if not isinstance(error, DBAPIError):
        return False
    if getattr(error.orig, "sqlstate", None) in _CONTENTION_SQLSTATES:
        return True
    text = str(error.orig).lower()
    return "database is locked" in text or "database is busy" in text or "database table is locked" in text


def is_connection_error(error: BaseException) -> bool:
    """True when the connection that raised ``error`` must be discarded rather than pooled again."""
    if not isinstance(error, DBAPIError):
        return False
    if error.connection_invalidated:
        return True
    return isinstance(error, OperationalError) and not is_contention(error)


class Outage:
    """Whether writes are failing for a reason other than contention; logs once when an episode
    starts (with the database's own words) and once when it ends, never once per call."""

    def __init__(self, database: str) -> None:
        self._database = database
        self._lock = threading.Lock()
        self._since: float | None = None

    @property
    def ongoing(self) -> bool:
        return self._since is not None

    def begin(self, error: BaseException) -> None:
        with self._lock:
            if self._since is not None:
                return
            self._since = time.monotonic()
        cause = getattr(error, "orig", None) or error
        logger.warning(
            "database {} failing ({}: {}); not ready until it takes writes again",
            self._database,
            type(cause).__name__,
            cause,
        )

    def end(self) -> bool:
        """Close the episode; True if there was one."""
        with self._lock:
            since, self._since = self._since, None
        if since is None:
            return False
        logger.warning(
            "database {} takes writes again after {:.1f} s", self._database, time.monotonic() - since
        )
        return True
