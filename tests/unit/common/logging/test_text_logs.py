"""The text log escapes what it did not write itself: a message, an extra or an exception's text holding
a line break, a carriage return or a terminal escape cannot make a line that reads as an event."""

from __future__ import annotations

import io
import re
import sys

import pytest
from loguru import logger

from common.printable import printable
from tests.support.logs import configured_logging

FORGED = "2026-01-01 00:00:00.000 | INFO    | order | cid=- | forged"
EVENT = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} \| ")


def test_a_message_and_its_extras_stay_on_their_line(capsys: pytest.CaptureFixture[str]) -> None:
    with configured_logging("order"):
        logger.bind(subject=f"mallory\n{FORGED}", note="a\rb").info(
            "refused for {}", f"x\u2028{FORGED}\x1b[2J"
        )

    [line] = capsys.readouterr().err.splitlines()
    assert line.endswith(f"| refused for x\\u2028{FORGED}\\x1b[2J | subject=mallory\\n{FORGED} note=a\\rb")


def test_a_traceback_is_indented_below_its_event_whatever_its_message_says(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with configured_logging("order"):
        try:
            raise ValueError(f"bad value\n{FORGED}\r{FORGED}")
        except ValueError:
            logger.exception("unexpected failure in {}", "/eshop.order.v1.OrderService/GetOrder")

    event, *traceback_lines = capsys.readouterr().err.split("\n")[:-1]
    assert EVENT.match(event) and event.endswith(
        "unexpected failure in /eshop.order.v1.OrderService/GetOrder"
    )
    assert traceback_lines[0] == "    Traceback (most recent call last):"
    assert all(line.startswith("    ") for line in traceback_lines)
    assert "    ValueError: bad value" in traceback_lines
    assert f"    {FORGED}\\r{FORGED}" in traceback_lines


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("plain text, é and 漢字", "plain text, é and 漢字"),
        ("a\nb\r\tc", "a\\nb\\r\\tc"),
        ("\x00\x1b\x7f\x85", "\\x00\\x1b\\x7f\\x85"),
        ("\u00a0\u2028\u2029\u202e\ufeff", "\\xa0\\u2028\\u2029\\u202e\\ufeff"),
        ("\U000e0001", "\\U000e0001"),
    ],
    ids=["printable", "controls", "C0 and C1", "separators and format", "astral"],
)
def test_printable_escapes_every_character_that_is_not(text: str, shown: str) -> None:
    assert printable(text) == shown


def test_lines_go_to_standard_error_as_it_is_when_they_are_written(monkeypatch: pytest.MonkeyPatch) -> None:
    """Not to the stream that was standard error when logging was configured (a test's captured one,
    closed since, refused every later line)."""
    earlier, now = io.StringIO(), io.StringIO()
    monkeypatch.setattr(sys, "stderr", earlier)
    with configured_logging("order"):
        monkeypatch.setattr(sys, "stderr", now)
        earlier.close()
        logger.info("after the swap")

    assert "| after the swap" in now.getvalue()
