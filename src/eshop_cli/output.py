"""What the commands print: JSON for scripts, aligned tables for people, errors on stderr."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Sequence
from datetime import timezone

import grpc
from google.protobuf.json_format import MessageToDict
from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from common import correlation
from eshop_cli import exit_codes
from eshop_cli.session import CallFailed


def to_json(message: Message) -> str:
    # Fields at their default (stock 0, empty reason) are printed too: scripts can rely on every key.
    as_dict = MessageToDict(
        message, preserving_proto_field_name=True, always_print_fields_with_no_presence=True
    )
    return json.dumps(as_dict, indent=2)


def emit(message: Message, as_json: bool, render: Callable[[], str]) -> None:
    """Print ``message`` as JSON, or the human view ``render`` builds."""
    print(to_json(message) if as_json else render())


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(headers)]
    lines = [headers, ["-" * w for w in widths], *rows]
    return "\n".join(_row(line, widths) for line in lines)


def _row(cells: Sequence[str], widths: Sequence[int]) -> str:
    return "  ".join(cell.ljust(width) for cell, width in zip(cells, widths, strict=True)).rstrip()


def fields(pairs: Sequence[tuple[str, str]]) -> str:
    """One ``label  value`` line per pair, labels aligned."""
    width = max(len(label) for label, _ in pairs)
    return "\n".join(f"{label.ljust(width)}  {value}" for label, value in pairs)


def timestamp(value: Timestamp) -> str:
    if value.seconds == 0 and value.nanos == 0:
        return "-"
    return value.ToDatetime(tzinfo=timezone.utc).isoformat(timespec="seconds")


def info(text: str) -> None:
    """A note for the person at the terminal; on stderr so stdout stays parsable."""
    print(text, file=sys.stderr)


def report_failure(failed: CallFailed) -> int:
    """Print status code, message, details and correlation id to stderr; return the exit code."""
    error = failed.error
    code = error.code() if isinstance(error, grpc.Call) else None
    message = error.details() if isinstance(error, grpc.Call) else str(error)
    name = code.name if code is not None else "UNKNOWN"
    lines = [f"error: {name}: {message or '(no message)'}"]
    lines.extend(f"  {line}" for line in _detail_lines(error))
    received = _trailer(error, correlation.HEADER)
    if received is not None:
        lines.append(f"  correlation id: {received}")
    else:  # the call never reached our server (connection refused, deadline): quote what was sent
        lines.append(f"  correlation id: {failed.sent_correlation_id} (sent; no answer from the server)")
    if code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED) and received is None:
        lines.append(f"  hint: is a service listening on {failed.target}? (`eshop up` starts both)")
    if code == grpc.StatusCode.UNAUTHENTICATED:
        lines.append(
            "  hint: pass --token or set ESHOP_TOKEN (`eshop dev-token` mints one for `eshop up --auth`)"
        )
    print("\n".join(lines), file=sys.stderr)
    return exit_codes.for_status(code)


def _trailer(error: grpc.RpcError, key: str) -> str | None:
    if not isinstance(error, grpc.Call):
        return None
    for item in error.trailing_metadata() or ():
        if item[0] == key:
            value = item[1]
            return value.decode() if isinstance(value, bytes) else str(value)
    return None


def _detail_lines(error: grpc.RpcError) -> list[str]:
    """The AIP-193 details (BadRequest, PreconditionFailure, ResourceInfo), one line each."""
    try:
        status = rpc_status.from_call(error) if isinstance(error, grpc.Call) else None
    except ValueError:  # status trailer inconsistent with the call's code: show the code alone
        return []
    lines: list[str] = []
    for packed in [] if status is None else status.details:
        if packed.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad = error_details_pb2.BadRequest()
            packed.Unpack(bad)
            lines += [f"field {v.field}: {v.description}" for v in bad.field_violations]
        elif packed.Is(error_details_pb2.PreconditionFailure.DESCRIPTOR):
            failure = error_details_pb2.PreconditionFailure()
            packed.Unpack(failure)
            lines += [f"{v.type} {v.subject}: {v.description}" for v in failure.violations]
        elif packed.Is(error_details_pb2.ResourceInfo.DESCRIPTOR):
            resource = error_details_pb2.ResourceInfo()
            packed.Unpack(resource)
            lines.append(f"missing {resource.resource_type} {resource.resource_name}")
    return lines
