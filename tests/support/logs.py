"""Log lines captured while a test runs: every loguru record of the in-process services, on any thread."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from loguru import logger

from common.logging import configure_logging, reset_logging


@dataclass(frozen=True)
class LogLine:
    level: str
    message: str
    correlation_id: str | None
    has_exception: bool


@contextmanager
def captured_logs() -> Iterator[list[LogLine]]:
    """The lines written inside the block, each with its level and bound correlation id."""
    lines: list[LogLine] = []

    def sink(message: Any) -> None:
        record = message.record
        lines.append(
            LogLine(
                record["level"].name,
                record["message"],
                record["extra"].get("correlation_id"),
                record["exception"] is not None,
            )
        )

    sink_id = logger.add(sink, format="{message}", level="DEBUG")
    try:
        yield lines
    finally:
        logger.remove(sink_id)


@contextmanager
def configured_logging(service: str, level: str = "INFO", json_lines: bool = False) -> Iterator[None]:
    """The services' log set up inside the block (its sink on stderr as the test captures it), and put
    back after: what libraries logged meanwhile is written first, and the standard library's logging is
    no longer routed, so no later line goes to a capture that has since closed."""
    configure_logging(service, level, json_lines)
    try:
        yield
    finally:
        reset_logging()
