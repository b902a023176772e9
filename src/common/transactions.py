"""Who owns a handler's transactions, said by its type so the pipeline never guesses.

A transaction is a short synchronous function (no ``await`` inside), run by the unit of work's
``run``: the database adapter decides how (inline on the event loop for SQLite, in a greenlet on the
loop for PostgreSQL, each round trip awaited). Every handler is one of two kinds. A ``OneTransaction``
handler's ``handle`` is such a function, plain ``def``: ``UnitOfWorkBehaviour`` has the adapter run it
and (for a command) commits; the handler never commits. An ``OwnsTransactions`` handler is ``async``
because it awaits another service between transactions: it runs each one itself
(``await self.uow.run(self._place, order)``) and ends it with ``commit_in_time``. A handler of neither
kind is refused at dispatch (``UndeclaredTransaction``) instead of running without a transaction.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar, Generic, Protocol, TypeVar

from loguru import logger

from common import deadline

T = TypeVar("T")


class UnitOfWork(Protocol):
    """One transaction at a time: opened by the first use, ended by ``commit`` or by leaving the block
    (which rolls back whatever is uncommitted)."""

    @property
    def in_transaction(self) -> bool:
        """Whether there is uncommitted work."""
        ...

    def __enter__(self) -> object: ...
    def __exit__(self, *exc_info: object) -> None: ...
    def commit(self) -> None: ...
    def after_commit(self, action: Callable[[], None]) -> None:
        """Run ``action`` once the current transaction has committed, never if it rolls back (its
        deadline passed at commit, a conflict reruns it, the database went away): what reports a
        change, e.g. a metric, reports it once and only when it happened. An action that raises is
        logged; the commit stands and the other actions still run."""
        ...

    async def run(self, body: Callable[..., T], *args: Any) -> T:
        """Run the synchronous ``body(*args)`` inside this unit of work's block, where the backend runs
        transactions; what ``body`` leaves uncommitted is rolled back."""
        ...


U = TypeVar("U", bound=UnitOfWork)


class AfterCommit:
    """The actions a unit of work runs once its transaction has committed (``UnitOfWork.after_commit``):
    ``run`` after a commit, ``discard`` on a rollback."""

    def __init__(self) -> None:
        self._actions: list[Callable[[], None]] = []

    def add(self, action: Callable[[], None]) -> None:
        self._actions.append(action)

    def discard(self) -> None:
        self._actions.clear()

    def run(self) -> None:
        actions, self._actions = self._actions, []
        for action in actions:
            try:
                action()
            except Exception:
                # The work is committed: a failing report (a metric) must not turn it into an error.
                logger.exception("an action after a commit failed; the commit stands")


class OneTransaction(Generic[U]):
    """A handler whose whole work is one transaction, run and committed by ``UnitOfWorkBehaviour``.

    ``retry_on_conflict = True`` (only for handlers with no effect outside their transaction, such as a
    call to another service) lets a serialization failure or deadlock rerun the handler a bounded
    number of times before the caller sees ABORTED.
    """

    retry_on_conflict: ClassVar[bool] = False

    def __init__(self, uow: U) -> None:
        self.uow = uow


class OwnsTransactions:
    """An ``async`` handler that awaits another service between its transactions: it runs each one
    itself (``await self.uow.run(...)``), commits with ``commit_in_time``, and the pipeline awaits it
    as it is."""


class UndeclaredTransaction(TypeError):
    """A handler that says neither who commits its work: a wiring bug, refused before it runs."""


def commit_in_time(uow: UnitOfWork) -> None:
    """Commit, unless the caller's deadline has passed: its answer would go nowhere, so the work is
    abandoned (rolled back when the unit of work's block is left) with DEADLINE_EXCEEDED."""
    if uow.in_transaction:
        deadline.check()
    uow.commit()
