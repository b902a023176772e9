"""``eshop``'s exit codes are what docs/cli.md's table says, status by status."""

from __future__ import annotations

import re
from pathlib import Path

import grpc
import pytest

from eshop_cli import exit_codes

_DOC = Path(__file__).resolve().parents[3] / "docs" / "cli.md"


def _documented() -> dict[grpc.StatusCode, int]:
    """Status name -> exit code, from the rows of the "Exit codes" table that name gRPC statuses."""
    table = _DOC.read_text().split("## Exit codes", 1)[1].split("\n## ", 1)[0]
    documented: dict[grpc.StatusCode, int] = {}
    for code, meaning in re.findall(r"^\| (\d+) \| (.*) \|$", table, flags=re.MULTILINE):
        for name in re.findall(r"`([A-Z_]+)`", meaning):
            if name in grpc.StatusCode.__members__:
                status = grpc.StatusCode[name]
                assert documented.setdefault(status, int(code)) == int(code), f"{name} is in two rows"
    return documented


def test_the_table_names_every_status_that_has_an_exit_code_of_its_own() -> None:
    assert len(_documented()) >= 11  # NOT_FOUND, the refusals, the retryable ones, INTERNAL, UNKNOWN


@pytest.mark.parametrize("status", list(grpc.StatusCode), ids=lambda s: s.name)
def test_each_status_exits_as_documented(status: grpc.StatusCode) -> None:
    expected = _documented().get(status, exit_codes.SERVER_ERROR)  # "any other status"
    assert exit_codes.for_status(status) == expected


def test_aborted_is_worth_retrying() -> None:
    # The services answer ABORTED for a conflict with a concurrent change and for a request_id still in
    # progress; both say "retry", so a script must see the code that means it (not "server error").
    assert exit_codes.for_status(grpc.StatusCode.ABORTED) == exit_codes.UNAVAILABLE == 5
