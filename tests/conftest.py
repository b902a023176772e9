"""Fixtures every test may use. ``make_database_url`` hands out a fresh, empty database per call."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest


@pytest.fixture
def make_database_url(tmp_path: Path) -> Callable[[str], str]:
    """``make_database_url("product")`` -> a URL of a new empty database (a SQLite file by default)."""

    def make(name: str) -> str:
        return f"sqlite:///{tmp_path / name}.db"

    return make
