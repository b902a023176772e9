"""The mediator: one handler per message type, built per dispatch, wrapped by behaviours in order; its
table filled by registrations the type checker holds to each message."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from common.mediator import (
    Command,
    Handler,
    Mediator,
    Next,
    Query,
    Request,
    UnknownMessage,
    handler_table,
    register,
)


@dataclass(frozen=True)
class Double(Query[int]):
    value: int


@dataclass(frozen=True)
class Unregistered(Command[None]):
    pass


class DoubleHandler:
    def handle(self, message: Double) -> int:
        return message.value * 2


class Recorder:
    """A behaviour that notes when it runs, before and after the rest of the pipeline."""

    def __init__(self, name: str, log: list[str]) -> None:
        self.name, self.log = name, log

    async def __call__(self, message: Request[Any], handler: Handler, call_next: Next) -> Any:
        self.log.append(f"{self.name}>")
        result = await call_next()
        self.log.append(f"<{self.name}")
        return result


async def test_send_returns_the_handler_result() -> None:
    assert await Mediator({Double: DoubleHandler}).send(Double(21)) == 42


async def test_an_unregistered_message_is_refused_by_name() -> None:
    with pytest.raises(UnknownMessage, match="no handler registered for Unregistered"):
        await Mediator({Double: DoubleHandler}).send(Unregistered())


async def test_the_handler_is_chosen_by_exact_type() -> None:
    @dataclass(frozen=True)
    class Triple(Double):
        pass

    with pytest.raises(UnknownMessage):
        await Mediator({Double: DoubleHandler}).send(Triple(1))


async def test_behaviours_wrap_the_handler_outermost_first() -> None:
    log: list[str] = []

    class LoggingHandler:
        def handle(self, message: Double) -> int:
            log.append("handle")
            return 0

    mediator = Mediator({Double: LoggingHandler}, [Recorder("a", log), Recorder("b", log)])
    await mediator.send(Double(1))

    assert log == ["a>", "b>", "handle", "<b", "<a"]


async def test_a_behaviour_sees_the_message_and_the_handler_built_for_it() -> None:
    seen: list[tuple[Request[Any], Handler]] = []

    async def spy(message: Request[Any], handler: Handler, call_next: Next) -> Any:
        seen.append((message, handler))
        return await call_next()

    message = Double(3)
    await Mediator({Double: DoubleHandler}, [spy]).send(message)

    assert seen[0][0] is message
    assert isinstance(seen[0][1], DoubleHandler)


async def test_a_behaviour_can_short_circuit_the_handler() -> None:
    handled: list[Double] = []

    class RecordingHandler:
        def handle(self, message: Double) -> int:
            handled.append(message)
            return 0

    async def short_circuit(message: Request[Any], handler: Handler, call_next: Next) -> Any:
        return -1

    mediator = Mediator({Double: RecordingHandler}, [short_circuit])

    assert await mediator.send(Double(1)) == -1
    assert handled == []


async def test_each_dispatch_builds_a_fresh_handler() -> None:
    built: list[DoubleHandler] = []

    def factory() -> DoubleHandler:
        built.append(DoubleHandler())
        return built[-1]

    mediator = Mediator({Double: factory})
    await mediator.send(Double(1))
    await mediator.send(Double(2))

    assert len(built) == 2
    assert built[0] is not built[1]


async def test_requests_accept_anything_unless_they_validate() -> None:
    Double(1).validate()  # does not raise


def test_a_table_refuses_a_message_registered_twice() -> None:
    table = handler_table(register(Double, DoubleHandler))
    assert table == {Double: DoubleHandler}
    with pytest.raises(ValueError, match="Double is registered twice"):
        handler_table(register(Double, DoubleHandler), register(Double, DoubleHandler))


MYPY = (sys.executable, "-m", "mypy", "--strict", "--no-incremental", "--disable-error-code", "empty-body")
REGISTRATIONS = """
from dataclasses import dataclass
from common.mediator import Command, Query, register

@dataclass(frozen=True)
class Double(Query[int]):
    value: int

@dataclass(frozen=True)
class Rename(Command[str]):
    name: str

class DoubleHandler:
    def handle(self, query: Double) -> int: ...

class RenameHandler:  # owns its transactions: async
    async def handle(self, command: Rename) -> str: ...

register(Double, DoubleHandler)
register(Rename, RenameHandler)
register(Double, RenameHandler)  # wrong: takes another message
register(Rename, DoubleHandler)  # wrong: takes another message
"""


def test_mypy_refuses_a_handler_registered_for_a_message_it_does_not_take_or_answer(tmp_path: Path) -> None:
    """What makes the containers' tables type-checked: ``register`` ties a handler's ``handle`` to the
    message's type and to the result the message declares."""
    wrong_result = "class WrongResult:\n    def handle(self, query: Double) -> str: ...\n"
    wrong_async_result = "class WrongAsync:\n    async def handle(self, command: Rename) -> int: ...\n"
    source = (
        REGISTRATIONS
        + wrong_result
        + wrong_async_result
        + "register(Double, WrongResult)  # wrong: answers another type\n"
        + "register(Rename, WrongAsync)  # wrong: answers another type\n"
    )
    (tmp_path / "registrations.py").write_text(source)
    done = subprocess.run(
        [
            *MYPY,
            "--python-executable",
            sys.executable,
            "--cache-dir",
            str(tmp_path / "cache"),
            "registrations.py",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    errors = {int(line.split(":")[1]) for line in done.stdout.splitlines() if ": error:" in line}
    wrong = {number for number, line in enumerate(source.splitlines(), 1) if "# wrong" in line}
    assert len(wrong) == 4
    assert errors == wrong, done.stdout
