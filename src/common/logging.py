"""Loguru set-up: stderr, one line per event, the correlation id on every line; JSON lines on request.

Facts are loguru extras (``logger.bind(order_id=...)``): JSON lines carry them as fields, text lines append
them as ``| key=value``. Tracebacks never show local variable values (they may hold secrets or personal data).
"""

from __future__ import annotations

import json
import sys
import traceback
from typing import TYPE_CHECKING, Any

from loguru import logger
from opentelemetry import trace

if TYPE_CHECKING:
    from loguru import Message, Record

TEXT_FORMAT = (
    "<green>{time:YYYY-MM-DD HH:mm:ss.SSS}</green> | <level>{level: <7}</level> | "
    "<cyan>{extra[service]}</cyan> | cid={extra[correlation_id]} | {message}{extra[fields]}"
)
# Extras bound by the call-logging interceptors; a text line already says them in its message.
CALL_FIELDS = ("grpc_method", "grpc_code", "duration_ms")
# The lines that bind these name the order or product in their message too.
ENTITY_FIELDS = ("order_id", "product_id")
_NOT_IN_TEXT_TAIL = {"service", "correlation_id", "fields", *CALL_FIELDS, *ENTITY_FIELDS}


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
    extra = record["extra"]
    _add_trace_context(extra)
    shown = {k: v for k, v in extra.items() if k not in _NOT_IN_TEXT_TAIL}
    extra["fields"] = (" | " + " ".join(f"{k}={v}" for k, v in shown.items())) if shown else ""


def _json_line(record: Record) -> str:
    extra = record["extra"]
    line: dict[str, Any] = {
        "time": record["time"].isoformat(),
        "level": record["level"].name,
        "service": extra.get("service", "-"),
        "correlation_id": extra.get("correlation_id", "-"),
        "message": record["message"],
        **{k: v for k, v in extra.items() if k not in ("service", "correlation_id", "fields")},
    }
    if (exception := record["exception"]) is not None:
        # The standard library's rendering: frames and source lines, never local values.
        line["exception"] = "".join(
            traceback.format_exception(exception.type, exception.value, exception.traceback)
        )
    return json.dumps(line, default=str)


def _json_sink(message: Message) -> None:
    sys.stderr.write(_json_line(message.record) + "\n")


def _json_format(record: Record) -> str:
    # A callable format keeps loguru from rendering the exception into the message a second time.
    return "{message}"


def configure_logging(service: str, level: str = "INFO", json_lines: bool = False) -> None:
    """Replace loguru's default sink. Safe to call again (tests, ``eshop up``)."""
    logger.remove()
    logger.configure(extra={"service": service, "correlation_id": "-"}, patcher=_patch)
    if json_lines:
        logger.add(_json_sink, level=level.upper(), format=_json_format, backtrace=False, diagnose=False)
    else:
        logger.add(sys.stderr, level=level.upper(), format=TEXT_FORMAT, backtrace=False, diagnose=False)
