"""The logger a call line is written with: method, status code and duration bound as fields."""

from __future__ import annotations

from typing import TYPE_CHECKING

import grpc
from loguru import logger

if TYPE_CHECKING:
    from loguru import Logger


def call_logger(method: str | bytes, code: grpc.StatusCode, elapsed_ms: float) -> Logger:
    """``grpc_method`` as gRFC A66 and OpenTelemetry name it (``pkg.Service/Method``, no leading slash)."""
    name = method.decode() if isinstance(method, bytes) else method
    return logger.bind(grpc_method=name.lstrip("/"), grpc_code=code.name, duration_ms=round(elapsed_ms, 3))
