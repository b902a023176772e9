"""ESHOP_LOG_JSON=true: one JSON object per event, facts as fields, tracebacks without local values."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import grpc
import pytest
from loguru import logger
from opentelemetry.sdk.trace import TracerProvider

from common import call_context, correlation
from common.grpc.client_interceptors import client_interceptors
from tests.support.aio_server import serving
from tests.support.logs import configured_logging

SERVICE = "test.v1.Exploding"
EXPLODE = f"/{SERVICE}/Explode"
ECHO = f"/{SERVICE}/Echo"
# Held only in a local variable of the raising function: a traceback with local values would show it.
CARD_NUMBER = "4111-1111-SECRET-LOCAL"


async def _charge(request: bytes, context: Any) -> bytes:
    card_number = CARD_NUMBER
    raise LookupError("card refused", len(card_number))  # loguru's diagnose would print card_number here


async def _echo(request: bytes, context: Any) -> bytes:
    logger.bind(order_id="order-7").info("echo for order {}", "order-7")
    return request


@pytest.fixture
def target() -> Iterator[str]:
    """A real server with the production interceptors and a test-only service whose Explode raises."""
    handlers = {
        "Explode": grpc.unary_unary_rpc_method_handler(_charge),
        "Echo": grpc.unary_unary_rpc_method_handler(_echo),
    }
    with serving({SERVICE: handlers}) as port:
        yield f"127.0.0.1:{port}"


@pytest.fixture
def json_logs(capsys: pytest.CaptureFixture[str]) -> Iterator[pytest.CaptureFixture[str]]:
    with configured_logging("product", "DEBUG", json_lines=True):
        yield capsys


def parsed(capsys: pytest.CaptureFixture[str]) -> tuple[str, list[dict[str, Any]]]:
    err = capsys.readouterr().err
    return err, [json.loads(line) for line in err.splitlines() if line.strip()]


def test_an_unexpected_exception_is_one_traceback_without_local_values(
    target: str, json_logs: pytest.CaptureFixture[str]
) -> None:
    with grpc.insecure_channel(target) as channel, pytest.raises(grpc.RpcError) as raised:
        channel.unary_unary(EXPLODE)(b"", metadata=((correlation.HEADER, "json-cid-1"),), timeout=5)
    assert raised.value.code() == grpc.StatusCode.INTERNAL

    output, lines = parsed(json_logs)
    assert output.count("Traceback (most recent call last)") == 1
    assert CARD_NUMBER not in output
    [failure] = [line for line in lines if "exception" in line]
    assert failure["level"] == "ERROR"
    assert failure["service"] == "product"
    assert failure["correlation_id"] == "json-cid-1"
    assert "LookupError: ('card refused', 22)" in failure["exception"]
    assert "_charge" in failure["exception"]  # the frames are there, only their values are not


def test_a_call_line_carries_method_code_and_duration_as_fields(
    target: str, json_logs: pytest.CaptureFixture[str]
) -> None:
    with grpc.insecure_channel(target) as channel, pytest.raises(grpc.RpcError):
        channel.unary_unary(EXPLODE)(b"", metadata=((correlation.HEADER, "json-cid-2"),), timeout=5)

    _, lines = parsed(json_logs)
    [call] = [line for line in lines if line["message"].startswith("rpc ")]
    assert call["message"].startswith(f"rpc {EXPLODE} INTERNAL ")
    assert call["grpc_method"] == EXPLODE.lstrip("/")
    assert call["grpc_code"] == "INTERNAL"
    assert isinstance(call["duration_ms"], float) and call["duration_ms"] >= 0
    assert call["correlation_id"] == "json-cid-2"
    assert call["level"] == "INFO"
    assert {"time", "service"} <= call.keys()
    assert "trace_id" not in call  # no span is active


async def test_outgoing_calls_and_handler_lines_carry_their_fields(
    target: str, json_logs: pytest.CaptureFixture[str]
) -> None:
    async with grpc.aio.insecure_channel(target, interceptors=client_interceptors()) as channel:
        with call_context.correlation_bound("json-cid-3"):
            await channel.unary_unary(ECHO)(b"", timeout=5)

    _, lines = parsed(json_logs)
    [outgoing] = [line for line in lines if line["message"].startswith("outgoing rpc ")]
    assert (outgoing["grpc_method"], outgoing["grpc_code"]) == (ECHO.lstrip("/"), "OK")
    assert isinstance(outgoing["duration_ms"], float)
    assert outgoing["correlation_id"] == "json-cid-3"
    [handler] = [line for line in lines if line["message"].startswith("echo for order")]
    assert handler["order_id"] == "order-7"
    assert handler["correlation_id"] == "json-cid-3"


def test_a_line_written_inside_a_span_carries_its_trace_and_span_id(
    json_logs: pytest.CaptureFixture[str],
) -> None:
    tracer = TracerProvider().get_tracer("test")
    with tracer.start_as_current_span("work") as span:
        logger.info("inside a span")
    logger.info("outside any span")

    _, [inside, outside] = parsed(json_logs)
    assert inside["trace_id"] == format(span.get_span_context().trace_id, "032x")
    assert inside["span_id"] == format(span.get_span_context().span_id, "016x")
    assert "trace_id" not in outside and "span_id" not in outside


def test_text_lines_show_the_trace_id_and_keep_the_call_line_as_it_was(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with configured_logging("order", "INFO", json_lines=False):
        tracer = TracerProvider().get_tracer("test")
        with tracer.start_as_current_span("work") as span:
            logger.bind(grpc_method="a.B/C", grpc_code="OK", duration_ms=1.0).info("rpc /a.B/C OK 1.0 ms")
            logger.bind(order_id="o-1").info("order o-1 cancelled")

    line, order_line = capsys.readouterr().err.splitlines()
    context = span.get_span_context()
    ids = f"trace_id={context.trace_id:032x} span_id={context.span_id:016x}"
    assert line.endswith(f"| order | cid=- | rpc /a.B/C OK 1.0 ms | {ids}")
    assert "grpc_method" not in line and "duration_ms" not in line
    assert order_line.endswith(f"| order | cid=- | order o-1 cancelled | {ids}")
