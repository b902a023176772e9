"""Exit codes of ``eshop``, one per kind of outcome a script may want to branch on (docs/cli.md)."""

from __future__ import annotations

import grpc

OK = 0
FAILED = 1  # `eshop up` could not start or a service died; `eshop health` found a service not SERVING
USAGE = 2  # bad command line (argparse's own code)
CONFIGURATION = 2  # invalid configuration (`eshop up`, `eshop <service> serve|migrate`): one line per problem
NOT_FOUND = 3
REFUSED = 4  # the request was refused: invalid argument, failed precondition, already exists, not
# authenticated or not allowed
UNAVAILABLE = 5  # worth retrying: no answer in time (service down, unreachable, overloaded, past the
# deadline) or ABORTED (a concurrent change, or the same request_id still in progress)
SERVER_ERROR = 6  # any other status (INTERNAL, UNKNOWN, ...)
ORDER_REJECTED = 7  # `eshop orders create`: the order was stored but REJECTED (stock, unknown product)
INTERRUPTED = 130  # Ctrl-C during a client command

_BY_STATUS: dict[grpc.StatusCode, int] = {
    grpc.StatusCode.NOT_FOUND: NOT_FOUND,
    grpc.StatusCode.INVALID_ARGUMENT: REFUSED,
    grpc.StatusCode.FAILED_PRECONDITION: REFUSED,
    grpc.StatusCode.ALREADY_EXISTS: REFUSED,
    grpc.StatusCode.OUT_OF_RANGE: REFUSED,
    grpc.StatusCode.UNAUTHENTICATED: REFUSED,
    grpc.StatusCode.PERMISSION_DENIED: REFUSED,
    grpc.StatusCode.UNAVAILABLE: UNAVAILABLE,
    grpc.StatusCode.DEADLINE_EXCEEDED: UNAVAILABLE,
    grpc.StatusCode.RESOURCE_EXHAUSTED: UNAVAILABLE,
    grpc.StatusCode.ABORTED: UNAVAILABLE,
}


def for_status(code: grpc.StatusCode | None) -> int:
    return SERVER_ERROR if code is None else _BY_STATUS.get(code, SERVER_ERROR)
