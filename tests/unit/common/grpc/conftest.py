"""``probe``: a tiny real gRPC server on 127.0.0.1 with the production interceptors and a generic handler,
so the interceptors run against grpc's own ServicerContext rather than a fake one; ``logs``: the lines
written meanwhile."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.aio_server import Probe, probing
from tests.support.logs import LogLine, captured_logs


@pytest.fixture
def probe() -> Iterator[Probe]:
    with probing() as probe:
        yield probe


@pytest.fixture
def logs() -> Iterator[list[LogLine]]:
    """Every loguru record written while the test runs (any thread), with its bound correlation id."""
    with captured_logs() as lines:
        yield lines
