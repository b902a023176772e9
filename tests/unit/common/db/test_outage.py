"""An outage episode is logged once when it starts and once when it ends, however many calls fail in it,
and a transaction that began before an episode ended does not start another when it fails late."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from loguru import logger

from common.db.outage import Outage


@pytest.fixture
def lines() -> Iterator[list[str]]:
    seen: list[str] = []
    sink = logger.add(lambda m: seen.append(m.record["message"]), level="WARNING", format="{message}")
    yield seen
    logger.remove(sink)


def test_an_episode_is_logged_once_when_it_starts_and_once_when_it_ends(lines: list[str]) -> None:
    outage = Outage("postgresql://db/x")

    for _ in range(3):
        outage.begin(ConnectionError("server closed the connection"))
    assert outage.ongoing
    assert outage.end()
    assert not outage.end()

    assert len(lines) == 2
    assert "failing (ConnectionError: server closed the connection)" in lines[0]
    assert "takes writes again after" in lines[1]


def test_what_was_found_may_be_said_in_words(lines: list[str]) -> None:
    Outage("postgresql://db/x").begin("the database refuses writes")

    assert "failing (the database refuses writes)" in lines[0]


def test_a_late_failure_of_a_transaction_begun_before_the_episode_ended_starts_none(lines: list[str]) -> None:
    outage = Outage("postgresql://db/x")
    before = outage.generation  # a transaction begins
    outage.begin(ConnectionError("terminated"))  # another one meets the outage
    outage.end()  # and a third one's write works

    outage.begin(ConnectionError("terminated"), began_in=before)  # the first one fails only now
    assert not outage.ongoing

    outage.begin(ConnectionError("terminated again"), began_in=outage.generation)  # a new failure
    assert outage.ongoing
    assert len(lines) == 3, lines  # started, ended, started: the late failure logged nothing
    assert "failing (ConnectionError: terminated again)" in lines[2]


def test_a_write_of_a_transaction_begun_before_the_episode_started_ends_none(lines: list[str]) -> None:
    outage = Outage("postgresql://db/x")
    before = outage.generation  # a transaction begins
    outage.begin(ConnectionError("terminated"))  # the server goes; another transaction meets it

    assert not outage.end(began_in=before)  # the first one's commit had landed just before
    assert outage.ongoing

    assert outage.end(began_in=outage.generation)  # one begun since writes: the episode ends
    assert len(lines) == 2, lines  # started, ended: one episode, as the restart was
