"""``probe``: a tiny real gRPC server on 127.0.0.1 with the production interceptors and a generic handler,
so the interceptors run against grpc's own ServicerContext rather than a fake one (``logs``, the lines
written meanwhile, is every test's: tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.aio_server import Probe, probing


@pytest.fixture
def probe() -> Iterator[Probe]:
    with probing() as probe:
        yield probe
