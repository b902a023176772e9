"""Who owns a handler's transactions, said by its type so the pipeline never guesses.

Every handler is one of two kinds. A ``OneTransaction`` handler does all its work in one transaction,
which ``UnitOfWorkBehaviour`` opens around it and (for a command) commits; the handler never commits.
An ``OwnsTransactions`` handler calls another service between transactions, so it opens each one
itself (``with self.uow:``) and ends it with ``commit_in_time``. A handler of neither kind is refused
at dispatch (``UndeclaredTransaction``) instead of running without a transaction.
"""

from __future__ import annotations

from typing import ClassVar, Generic, Protocol, TypeVar

from common import deadline


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


U = TypeVar("U", bound=UnitOfWork)


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
    """A handler that calls another service between its transactions: it opens and commits each one
    itself, with ``commit_in_time``, and the pipeline runs it as it is."""


class UndeclaredTransaction(TypeError):
    """A handler that says neither who commits its work: a wiring bug, refused before it runs."""


def commit_in_time(uow: UnitOfWork) -> None:
    """Commit, unless the caller's deadline has passed: its answer would go nowhere, so the work is
    abandoned (rolled back when the unit of work's block is left) with DEADLINE_EXCEEDED."""
    if uow.in_transaction:
        deadline.check()
    uow.commit()
