"""Loguru set-up: stderr, one line per event, the correlation id on every line; JSON lines on request.

Facts are loguru extras (``logger.bind(order_id=...)``): JSON lines carry them as fields, text lines append
them as ``| key=value``. Tracebacks never show local variable values (they may hold secrets or personal data).

The text sink writes every value escaped (``common.printable``), the message, the extras and the
traceback alike: a subject, a name or a reason a caller chose can add no line to the log (CWE-117), and
no log call can forget it. JSON lines need nothing more: JSON escapes control characters itself.

Libraries that log with the standard library (aiormq and aio-pika, alembic, grpc) are routed into the
same sink by one handler on the root logger, so a service's log is in one format whatever wrote the
line; the library's logger name is the field ``logger``. aiormq's and alembic's chatter stops at
WARNING. The handler only queues the record; a thread of its own writes it. grpc logs while it holds
locks of its own, and a thread writing a line holds loguru's lock, during which a garbage collection
may run grpc's finalizers, which take grpc's locks: waiting for loguru there deadlocked a test run.
"""

from __future__ import annotations

import atexit
import functools
import json
import logging
import sys
import threading
import traceback
from queue import SimpleQueue
from typing import TYPE_CHECKING, Any

from loguru import logger
from opentelemetry import trace

from common.printable import printable

if TYPE_CHECKING:
    from loguru import Message, Record, RecordException

TEXT_FORMAT = (
    "<green>{time:YYYY-MM-DD HH:mm:ss.SSS}</green> | <level>{level: <7}</level> | "
    "<cyan>{extra[text][service]}</cyan> | cid={extra[text][correlation_id]} | "
    "{extra[text][message]}{extra[text][fields]}\n{extra[text][exception]}"
)
# A traceback's lines are indented below its event: a line break inside an exception's message (which
# may quote a caller's value) can never start a line that reads as an event of its own.
TRACEBACK_INDENT = "    "
# Extras bound by the call-logging interceptors; a text line already says them in its message.
CALL_FIELDS = ("grpc_method", "grpc_code", "duration_ms")
# The lines that bind these name the order or product in their message too.
ENTITY_FIELDS = ("order_id", "product_id")
_NOT_IN_TEXT_TAIL = {"service", "correlation_id", "text", *CALL_FIELDS, *ENTITY_FIELDS}


def _add_trace_context(extra: dict[str, Any]) -> None:
    """The active OpenTelemetry span's ids, so a line can be found from its trace and back.

    Reads the API's current span: it is valid only once a TracerProvider is installed and a span started,
    so without tracing nothing is added.
    """
    context = trace.get_current_span().get_span_context()
    if context.is_valid:
        extra["trace_id"] = format(context.trace_id, "032x")
        extra["span_id"] = format(context.span_id, "016x")


def _patch(record: Record) -> None:
    _add_trace_context(record["extra"])


def _text_format(record: Record) -> str:
    """The text line's parts, escaped, under ``extra["text"]`` (what the format shows of the record)."""
    extra = record["extra"]
    shown = {k: v for k, v in extra.items() if k not in _NOT_IN_TEXT_TAIL}
    fields = " ".join(f"{printable(str(k))}={printable(str(v))}" for k, v in shown.items())
    extra["text"] = {
        "service": printable(str(extra.get("service", "-"))),
        "correlation_id": printable(str(extra.get("correlation_id", "-"))),
        "message": printable(record["message"]),
        "fields": f" | {fields}" if fields else "",
        "exception": _traceback_text(record["exception"]),
    }
    return TEXT_FORMAT


def _traceback_text(exception: RecordException | None) -> str:
    if exception is None:
        return ""
    lines = "".join(traceback.format_exception(exception.type, exception.value, exception.traceback))
    return "".join(f"{TRACEBACK_INDENT}{printable(line)}\n" for line in lines.rstrip("\n").split("\n"))


def _json_line(record: Record) -> str:
    extra = record["extra"]
    line: dict[str, Any] = {
        "time": record["time"].isoformat(),
        "level": record["level"].name,
        "service": extra.get("service", "-"),
        "correlation_id": extra.get("correlation_id", "-"),
        "message": record["message"],
        **{k: v for k, v in extra.items() if k not in ("service", "correlation_id", "text")},
    }
    if (exception := record["exception"]) is not None:
        # The standard library's rendering: frames and source lines, never local values.
        line["exception"] = "".join(
            traceback.format_exception(exception.type, exception.value, exception.traceback)
        )
    return json.dumps(line, default=str)


def _json_sink(message: Message) -> None:
    sys.stderr.write(_json_line(message.record) + "\n")


def _text_sink(message: Message) -> None:
    # sys.stderr as it is at each line, not as it was when logging was configured (a test's captured
    # stream, closed since, would refuse every later line).
    sys.stderr.write(message)


def _json_format(record: Record) -> str:
    # A callable format keeps loguru from rendering the exception into the message a second time.
    return "{message}"


def _to_loguru(record: logging.LogRecord) -> None:
    """A standard-library record as a loguru event: its level, message, exception and logger name."""
    try:
        level: str | int = logger.level(record.levelname).name
    except ValueError:  # a level of the library's own
        level = record.levelno
    logger.bind(logger=record.name).opt(exception=record.exc_info).log(level, record.getMessage())


class _LibraryLines:
    """Standard-library records, written into loguru by a thread of their own (module docstring)."""

    def __init__(self) -> None:
        self._queue: SimpleQueue[logging.LogRecord | threading.Event] = SimpleQueue()
        threading.Thread(target=self._write, name="library-log-lines", daemon=True).start()
        atexit.register(self.flush, timeout_s=1.0)  # the last lines before the process ends

    def put(self, record: logging.LogRecord) -> None:
        self._queue.put(record)

    def flush(self, timeout_s: float = 5.0) -> None:
        """Wait until every record queued before this call is written."""
        written = threading.Event()
        self._queue.put(written)
        written.wait(timeout_s)

    def _write(self) -> None:
        while True:
            item = self._queue.get()
            if isinstance(item, threading.Event):
                item.set()
                continue
            try:
                _to_loguru(item)
            except Exception:  # a line that cannot be written must not end the thread
                logging.Handler().handleError(item)


@functools.cache
def _library_lines() -> _LibraryLines:
    """Started with the first routing, once per process."""
    return _LibraryLines()


class _ToLoguru(logging.Handler):
    """Queues the record, its message made now (the library may change its arguments after)."""

    def __init__(self, lines: _LibraryLines) -> None:
        super().__init__()
        self._lines = lines

    def emit(self, record: logging.LogRecord) -> None:
        record.msg, record.args = record.getMessage(), None
        self._lines.put(record)


def flush_standard_logging() -> None:
    """Wait until what libraries logged so far is in loguru's sink (tests read it right after)."""
    if _library_lines.cache_info().currsize:
        _library_lines().flush()


# Libraries that log every frame or state change at INFO or DEBUG: only their warnings are of use
# (alembic's "Context impl", "Will assume transactional DDL": the migrations log their own line).
QUIETED_LIBRARIES = ("aiormq", "alembic")


def _route_standard_logging(level: str) -> None:
    root = logging.getLogger()
    for handler in [h for h in root.handlers if isinstance(h, _ToLoguru)]:
        root.removeHandler(handler)  # called again: one handler, never two copies of each line
    root.addHandler(_ToLoguru(_library_lines()))
    root.setLevel(logger.level(level.upper()).no)  # loguru's numbers are the standard library's
    for name in QUIETED_LIBRARIES:
        logging.getLogger(name).setLevel(logging.WARNING)


def reset_logging() -> None:
    """Back to loguru's default: one sink on stderr (as it is at each line), no service fields, and the
    standard library's logging no longer routed (tests, after a block that configured the services' log)."""
    flush_standard_logging()
    root = logging.getLogger()
    for handler in [h for h in root.handlers if isinstance(h, _ToLoguru)]:
        root.removeHandler(handler)
    root.setLevel(logging.WARNING)
    logger.remove()
    logger.configure(extra={}, patcher=lambda record: None)
    logger.add(_text_sink)


def configure_logging(service: str, level: str = "INFO", json_lines: bool = False) -> None:
    """Replace loguru's default sink, and route the standard library's logging into it. Safe to call
    again (tests, ``eshop up``)."""
    _route_standard_logging(level)
    logger.remove()
    logger.configure(extra={"service": service, "correlation_id": "-"}, patcher=_patch)
    if json_lines:
        logger.add(_json_sink, level=level.upper(), format=_json_format, backtrace=False, diagnose=False)
    else:
        logger.add(
            _text_sink,
            level=level.upper(),
            format=_text_format,
            colorize=sys.stderr.isatty(),
            backtrace=False,
            diagnose=False,
        )
