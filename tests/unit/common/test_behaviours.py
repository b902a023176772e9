"""Pipeline behaviours: validation before anything, unit of work commit/rollback, logging of refusals;
a handler that does not say who owns its transactions is refused."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import pytest
from loguru import logger

from common import call_context
from common.behaviours import (
    LoggingBehaviour,
    OwnedWork,
    UnitOfWorkBehaviour,
    ValidationBehaviour,
    default_pipeline,
)
from common.errors import Aborted, DeadlineExceeded, FailedPrecondition, FieldViolation, InvalidArgument
from common.mediator import Command, Mediator, Query
from common.transactions import OneTransaction, OwnsTransactions, UndeclaredTransaction, commit_in_time

T = TypeVar("T")


@dataclass
class RecordingUow:
    events: list[str] = field(default_factory=list)
    in_transaction: bool = False  # True: has uncommitted work (the deadline is checked before commit)

    def __enter__(self) -> RecordingUow:
        self.events.append("enter")
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *rest: object) -> None:
        self.events.append("exit" if exc_type is None else f"exit:{exc_type.__name__}")

    def commit(self) -> None:
        self.events.append("commit")

    def after_commit(self, action: Callable[[], None]) -> None:
        self.events.append("after_commit")

    async def run(self, body: Callable[..., T], *args: Any) -> T:
        with self:
            return body(*args)


@dataclass(frozen=True)
class Write(Command[str]):
    ok: bool = True

    def validate(self) -> None:
        if not self.ok:
            raise InvalidArgument([FieldViolation("ok", "must be true")])


@dataclass(frozen=True)
class Read(Query[str]):
    pass


class UowHandler(OneTransaction[RecordingUow]):
    def __init__(self, uow: RecordingUow, fail: Exception | None = None) -> None:
        super().__init__(uow)
        self.fail = fail

    def handle(self, message: Any) -> str:
        self.uow.events.append("handle")
        if self.fail is not None:
            raise self.fail
        return "done"


def mediator(uow: RecordingUow, fail: Exception | None = None) -> Mediator:
    factory = lambda: UowHandler(uow, fail)  # noqa: E731
    return Mediator({Write: factory, Read: factory}, default_pipeline())


async def test_default_pipeline_is_logging_then_validation_then_unit_of_work() -> None:
    kinds = [type(b) for b in default_pipeline()]
    assert kinds == [LoggingBehaviour, ValidationBehaviour, UnitOfWorkBehaviour]


async def test_a_command_commits_inside_its_unit_of_work() -> None:
    uow = RecordingUow()
    assert await mediator(uow).send(Write()) == "done"
    assert uow.events == ["enter", "handle", "commit", "exit"]


async def test_a_query_never_commits() -> None:
    uow = RecordingUow()
    assert await mediator(uow).send(Read()) == "done"
    assert uow.events == ["enter", "handle", "exit"]


async def test_a_failing_command_leaves_without_commit_and_the_error_passes_through() -> None:
    uow = RecordingUow()
    with pytest.raises(FailedPrecondition, match="out of stock"):
        await mediator(uow, FailedPrecondition("out of stock")).send(Write())
    assert uow.events == ["enter", "handle", "exit:FailedPrecondition"]


async def test_an_invalid_message_never_reaches_the_handler_or_the_unit_of_work() -> None:
    uow = RecordingUow()
    with pytest.raises(InvalidArgument) as raised:
        await mediator(uow).send(Write(ok=False))
    assert [v.field for v in raised.value.violations] == ["ok"]
    assert uow.events == []


@pytest.mark.parametrize("message", [Write(), Read()])
async def test_a_handler_that_does_not_say_who_commits_is_refused_before_it_runs(
    message: Write | Read,
) -> None:
    ran: list[str] = []

    class Undeclared:
        """Has a unit of work, but nothing says the pipeline should run it in a transaction."""

        def __init__(self) -> None:
            self.uow = RecordingUow()

        def handle(self, message: Any) -> str:
            ran.append("handle")
            return "ran without a transaction"

    with pytest.raises(UndeclaredTransaction, match=r"Undeclared \(for \w+\) must derive"):
        await Mediator({type(message): Undeclared}, default_pipeline()).send(message)
    assert ran == []


async def test_a_handler_that_owns_its_transactions_runs_as_it_is() -> None:
    uow = RecordingUow()

    class Owner(OwnsTransactions):
        async def handle(self, message: Any) -> str:
            def transaction() -> None:
                uow.events.append("handle")
                commit_in_time(uow)

            await uow.run(transaction)
            return "owned"

    assert await Mediator({Write: Owner}, default_pipeline()).send(Write()) == "owned"
    assert uow.events == ["enter", "handle", "commit", "exit"]


async def test_owned_work_whose_caller_left_runs_to_its_end_and_asyncio_logs_nothing_of_it(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # grpc.aio cancels a call whose caller left; an OwnsTransactions handler still runs to its end (it
    # must not stop between a commit and the step that completes it), and its outcome, which nobody
    # awaits any more, is retrieved so that asyncio reports no error of its own, now or when collected.
    uow = RecordingUow()
    started, go_on = asyncio.Event(), asyncio.Event()

    class Owner(OwnsTransactions):
        async def handle(self, message: Any) -> str:
            started.set()
            await go_on.wait()
            uow.events.append("finished")
            raise RuntimeError("the step after the caller left failed")

    call = asyncio.ensure_future(Mediator({Write: Owner}, default_pipeline()).send(Write()))
    await started.wait()
    call.cancel()
    with pytest.raises(asyncio.CancelledError):
        await call
    go_on.set()
    for _ in range(100):  # a few turns of the loop: the owned task finishes, its callbacks run
        if "finished" in uow.events:
            break
        await asyncio.sleep(0)
    await asyncio.sleep(0)
    gc.collect()

    assert uow.events == ["finished"]
    assert [r.getMessage() for r in caplog.records if r.name == "asyncio"] == []


async def test_owned_work_whose_caller_left_is_waited_for_at_stop_then_cancelled() -> None:
    owned = OwnedWork()
    finishing, hanging = asyncio.Event(), asyncio.Event()
    ended: list[str] = []

    class Owner(OwnsTransactions):
        async def handle(self, message: Any) -> str:
            await (finishing if isinstance(message, Write) else hanging).wait()
            ended.append("finished")
            return "owned"

    pipeline = default_pipeline(owned)
    calls = [asyncio.ensure_future(Mediator({Write: Owner}, pipeline).send(Write())) for _ in range(2)]
    calls.append(asyncio.ensure_future(Mediator({Read: Owner}, pipeline).send(Read())))
    await asyncio.sleep(0)
    for call in calls:
        call.cancel()  # the callers left; their work goes on
    await asyncio.gather(*calls, return_exceptions=True)
    assert owned.running == 3

    asyncio.get_running_loop().call_soon(finishing.set)
    await owned.drain(timeout_s=0.5)  # the two that end within it end; the one that hangs is cancelled

    assert ended == ["finished", "finished"]
    assert owned.running == 0


async def test_an_owned_commit_past_the_callers_deadline_is_abandoned() -> None:
    uow = RecordingUow(in_transaction=True)
    with call_context.deadline_bound(-1.0), pytest.raises(DeadlineExceeded), uow:
        commit_in_time(uow)
    assert uow.events == ["enter", "exit:DeadlineExceeded"]


async def test_an_owned_commit_with_nothing_uncommitted_ignores_the_deadline() -> None:
    uow = RecordingUow(in_transaction=False)
    with call_context.deadline_bound(-1.0):
        commit_in_time(uow)
    assert uow.events == ["commit"]


async def test_refusals_are_logged_at_info_with_reason_and_code() -> None:
    lines: list[str] = []
    sink = logger.add(
        lambda m: lines.append(f"{m.record['level'].name} {m.record['message']}"), level="DEBUG"
    )
    try:
        with pytest.raises(FailedPrecondition):
            await mediator(RecordingUow(), FailedPrecondition("out of stock")).send(Write())
        await mediator(RecordingUow()).send(Read())
    finally:
        logger.remove(sink)

    assert lines[0] == "INFO Write refused: out of stock (FAILED_PRECONDITION)"
    assert lines[1].startswith("DEBUG Read handled in ")


class FlakyHandler(OneTransaction[RecordingUow]):
    """Fails with ``Aborted`` (a lost race) on its first ``failures`` runs."""

    retry_on_conflict = True

    def __init__(self, uow: RecordingUow, failures: int) -> None:
        super().__init__(uow)
        self.failures = failures

    def handle(self, message: Any) -> str:
        self.uow.events.append("handle")
        if self.uow.events.count("handle") <= self.failures:
            raise Aborted("conflict")
        return "done"


async def test_a_conflicting_command_that_may_retry_is_rerun_in_a_fresh_unit_of_work() -> None:
    uow = RecordingUow()
    mediator = Mediator({Write: lambda: FlakyHandler(uow, failures=2)}, default_pipeline())

    assert await mediator.send(Write()) == "done"
    assert uow.events == ["enter", "handle", "exit:Aborted"] * 2 + ["enter", "handle", "commit", "exit"]


async def test_conflicts_give_up_after_three_attempts_with_aborted() -> None:
    uow = RecordingUow()
    mediator = Mediator({Write: lambda: FlakyHandler(uow, failures=99)}, default_pipeline())

    with pytest.raises(Aborted):
        await mediator.send(Write())
    assert uow.events.count("handle") == 3
    assert "commit" not in uow.events


async def test_a_handler_that_does_not_opt_in_is_never_rerun() -> None:
    uow = RecordingUow()
    with pytest.raises(Aborted):
        await mediator(uow, Aborted("conflict")).send(Write())
    assert uow.events.count("handle") == 1


async def test_work_is_not_committed_once_the_callers_deadline_has_passed() -> None:
    uow = RecordingUow(in_transaction=True)
    with call_context.deadline_bound(-1.0), pytest.raises(DeadlineExceeded):
        await mediator(uow).send(Write())
    assert uow.events == ["enter", "handle", "exit:DeadlineExceeded"]


async def test_work_within_the_deadline_commits() -> None:
    uow = RecordingUow(in_transaction=True)
    with call_context.deadline_bound(60.0):
        await mediator(uow).send(Write())
    assert "commit" in uow.events
