"""Loguru set-up: stderr, one line per event, the correlation id on every line; JSON lines on request."""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Any

from loguru import logger

if TYPE_CHECKING:
    from loguru import Message

TEXT_FORMAT = (
    "<green>{time:YYYY-MM-DD HH:mm:ss.SSS}</green> | <level>{level: <7}</level> | "
    "<cyan>{extra[service]}</cyan> | cid={extra[correlation_id]} | {message}{extra[fields]}"
)
_RESERVED = {"service", "correlation_id", "fields"}


def _json_sink(message: Message) -> None:
    record = message.record
    extra = {k: v for k, v in record["extra"].items() if k not in _RESERVED}
    line: dict[str, Any] = {
        "time": record["time"].isoformat(),
        "level": record["level"].name,
        "service": record["extra"].get("service", "-"),
        "correlation_id": record["extra"].get("correlation_id", "-"),
        "message": record["message"],
        **extra,
    }
    if record["exception"] is not None:
        line["exception"] = "".join(message.splitlines(keepends=True)[1:]) or str(record["exception"])
    sys.stderr.write(json.dumps(line, default=str) + "\n")


def _patch_fields(record: Any) -> None:
    extra = record["extra"]
    shown = {k: v for k, v in extra.items() if k not in _RESERVED}
    extra["fields"] = (" | " + " ".join(f"{k}={v}" for k, v in shown.items())) if shown else ""


def configure_logging(service: str, level: str = "INFO", json_lines: bool = False) -> None:
    """Replace loguru's default sink. Safe to call again (tests, ``eshop up``)."""
    logger.remove()
    logger.configure(extra={"service": service, "correlation_id": "-"}, patcher=_patch_fields)
    if json_lines:
        logger.add(_json_sink, level=level.upper(), format="{message}\n{exception}", backtrace=False)
    else:
        logger.add(sys.stderr, level=level.upper(), format=TEXT_FORMAT, backtrace=False, diagnose=False)
