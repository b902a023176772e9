"""What libraries log with the standard library reaches loguru's sink, once, in the service's format."""

from __future__ import annotations

import io
import logging
import sys
import threading
from collections.abc import Iterator

import pytest
from loguru import logger

from common.logging import configure_logging, flush_standard_logging, reset_logging
from tests.support.helpers import wait_until


@pytest.fixture(autouse=True)
def _restore_loguru() -> Iterator[None]:
    yield
    reset_logging()


def test_a_library_line_is_a_text_line_with_its_logger_name_and_escaped(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging("order", "INFO")
    configure_logging("order", "INFO")  # again (eshop up, tests): still one line per record
    logging.getLogger("some.library").warning("refused by %s\nFAKE | ERROR | order | forged", "the peer")
    flush_standard_logging()

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
    flush_standard_logging()

    err = capsys.readouterr().err
    assert "detail" in err and "blocked" in err
    assert "a frame" not in err and "Context impl" not in err


def test_a_library_that_logs_never_waits_for_a_line_being_written() -> None:
    """grpc logs while holding locks of its own; a thread writing a line holds loguru's lock, and a
    garbage collection there may run grpc's finalizers, which take grpc's locks. A library's log call
    that waited for loguru's lock deadlocked both threads (seen in a test run)."""
    configure_logging("order", "INFO")
    writing, release = threading.Event(), threading.Event()

    def slow_sink(message: object) -> None:
        writing.set()
        release.wait(30)  # holds loguru's lock until released

    logger.add(slow_sink, level="INFO")
    writer = threading.Thread(target=logger.info, args=("a line of our own",), daemon=True)
    writer.start()
    try:
        assert writing.wait(30), "the first line never reached the sink"
        returned = threading.Event()

        def library_call() -> None:
            logging.getLogger("grpc._cython.cygrpc").warning("under a lock of its own")
            returned.set()

        threading.Thread(target=library_call, daemon=True).start()
        wait_until(returned.is_set, 5, "the library's log call returned while a line was being written")
    finally:
        release.set()
        writer.join(30)
    flush_standard_logging()


def test_after_a_reset_no_line_goes_to_the_stream_captured_before_it(monkeypatch: pytest.MonkeyPatch) -> None:
    """A test that set up the services' log puts it back with ``reset_logging``: a sink bound to the
    stream it captured (closed since) would turn every later line into a loguru error written into the
    next test's capture, and routed library chatter (grpc's DEBUG lines) would keep feeding it."""
    captured, later = io.StringIO(), io.StringIO()
    monkeypatch.setattr(sys, "stderr", captured)
    configure_logging("product", "DEBUG", json_lines=True)
    reset_logging()
    captured.close()
    monkeypatch.setattr(sys, "stderr", later)

    logging.getLogger("grpc._cython.cygrpc").debug("Loaded running loop")
    logger.info("a line of our own")
    flush_standard_logging()

    assert "a line of our own" in later.getvalue()
    assert "Loaded running loop" not in later.getvalue()
    assert "Logging error" not in later.getvalue()
    assert logging.getLogger().level == logging.WARNING
