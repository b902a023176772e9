"""The running code's version, from the installed package's metadata (pyproject.toml is the one place
it is written)."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

DISTRIBUTION = "eshop-grpc"

try:
    VERSION = version(DISTRIBUTION)
except PackageNotFoundError:  # run from a source tree that was never installed
    VERSION = "0+unknown"
