"""Log lines captured while a test runs: every loguru record of the in-process services, on any thread."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from loguru import logger


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
