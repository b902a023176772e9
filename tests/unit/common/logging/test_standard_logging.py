"""What libraries log with the standard library reaches loguru's sink, once, in the service's format."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator

import pytest
from loguru import logger

from common.logging import configure_logging


@pytest.fixture(autouse=True)
def _restore_loguru() -> Iterator[None]:
    yield
    logger.remove()
    logger.configure(extra={}, patcher=lambda record: None)
    logger.add(sys.stderr)


def test_a_library_line_is_a_text_line_with_its_logger_name_and_escaped(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging("order", "INFO")
    configure_logging("order", "INFO")  # again (eshop up, tests): still one line per record
    logging.getLogger("some.library").warning("refused by %s\nFAKE | ERROR | order | forged", "the peer")

    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1
    assert "| WARNING | order | cid=- | refused by the peer\\nFAKE" in lines[0]
    assert lines[0].endswith("| logger=some.library")


def test_library_debug_lines_follow_the_level_and_aiormq_and_alembic_only_warn(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging("order", "DEBUG")
    logging.getLogger("some.library").debug("detail")
    logging.getLogger("aiormq.connection").info("a frame")
    logging.getLogger("aiormq.connection").warning("blocked")
    logging.getLogger("alembic.runtime.migration").info("Context impl SQLiteImpl.")

    err = capsys.readouterr().err
    assert "detail" in err and "blocked" in err
    assert "a frame" not in err and "Context impl" not in err
