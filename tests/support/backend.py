"""Which database the tests run on: ``ESHOP_TEST_BACKEND``, ``sqlite`` (the default) or ``postgres``."""

from __future__ import annotations

import os

BACKENDS = ("sqlite", "postgres")


def backend() -> str:
    return os.environ.get("ESHOP_TEST_BACKEND", "").strip().lower() or "sqlite"
