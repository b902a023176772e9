"""The mediator: one handler per message type, built per dispatch, wrapped by behaviours in order."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from common.mediator import Command, Handler, Mediator, Next, Query, Request, UnknownMessage


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

    def __call__(self, message: Request[Any], handler: Handler, call_next: Next) -> Any:
        self.log.append(f"{self.name}>")
        result = call_next()
        self.log.append(f"<{self.name}")
        return result


def test_send_returns_the_handler_result() -> None:
    assert Mediator({Double: DoubleHandler}).send(Double(21)) == 42


def test_an_unregistered_message_is_refused_by_name() -> None:
    with pytest.raises(UnknownMessage, match="no handler registered for Unregistered"):
        Mediator({Double: DoubleHandler}).send(Unregistered())


def test_the_handler_is_chosen_by_exact_type() -> None:
    @dataclass(frozen=True)
    class Triple(Double):
        pass

    with pytest.raises(UnknownMessage):
        Mediator({Double: DoubleHandler}).send(Triple(1))


def test_behaviours_wrap_the_handler_outermost_first() -> None:
    log: list[str] = []

    class LoggingHandler:
        def handle(self, message: Double) -> int:
            log.append("handle")
            return 0

    mediator = Mediator({Double: LoggingHandler}, [Recorder("a", log), Recorder("b", log)])
    mediator.send(Double(1))

    assert log == ["a>", "b>", "handle", "<b", "<a"]


def test_a_behaviour_sees_the_message_and_the_handler_built_for_it() -> None:
    seen: list[tuple[Request[Any], Handler]] = []

    def spy(message: Request[Any], handler: Handler, call_next: Next) -> Any:
        seen.append((message, handler))
        return call_next()

    message = Double(3)
    Mediator({Double: DoubleHandler}, [spy]).send(message)

    assert seen[0][0] is message
    assert isinstance(seen[0][1], DoubleHandler)


def test_a_behaviour_can_short_circuit_the_handler() -> None:
    handled: list[Double] = []

    class RecordingHandler:
        def handle(self, message: Double) -> int:
            handled.append(message)
            return 0

    mediator = Mediator({Double: RecordingHandler}, [lambda message, handler, call_next: -1])

    assert mediator.send(Double(1)) == -1
    assert handled == []


def test_each_dispatch_builds_a_fresh_handler() -> None:
    built: list[DoubleHandler] = []

    def factory() -> DoubleHandler:
        built.append(DoubleHandler())
        return built[-1]

    mediator = Mediator({Double: factory})
    mediator.send(Double(1))
    mediator.send(Double(2))

    assert len(built) == 2
    assert built[0] is not built[1]


def test_requests_accept_anything_unless_they_validate() -> None:
    Double(1).validate()  # does not raise
