"""The Order service's own token for the Product service, re-read from its file when it changes."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from common.auth.token_file import TokenFile


def test_the_token_is_re_read_when_the_file_changes(tmp_path: Path) -> None:
    path = tmp_path / "token"
    path.write_text("first-token\n")
    tokens = TokenFile(path, check_interval_s=0)
    assert tokens.current() == "first-token"

    replacement = tmp_path / "token.new"
    replacement.write_text("second-token")
    os.replace(replacement, path)  # how rotation tools swap it: atomically
    assert tokens.current() == "second-token"

    path.write_text("third-token-longer")
    assert tokens.current() == "third-token-longer"


def test_an_unchanged_file_is_not_read_again(tmp_path: Path) -> None:
    path = tmp_path / "token"
    path.write_text("the-token")
    tokens = TokenFile(path, check_interval_s=0)
    tokens.current()
    stat = path.stat()
    path.write_text("different")  # same size and mtime as before: not a visible change
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))

    assert tokens.current() == "the-token"


def test_the_file_is_looked_at_no_more_often_than_the_interval(tmp_path: Path) -> None:
    path = tmp_path / "token"
    path.write_text("old")
    now = [0.0]
    tokens = TokenFile(path, check_interval_s=1.0, clock=lambda: now[0])
    tokens.current()
    path.write_text("newer")

    assert tokens.current() == "old"
    now[0] = 1.0
    assert tokens.current() == "newer"


@pytest.mark.parametrize("content", ["", "  \n", "two tokens"])
def test_a_file_without_a_single_token_is_an_error(tmp_path: Path, content: str) -> None:
    path = tmp_path / "token"
    path.write_text(content)

    with pytest.raises(ValueError, match="does not hold a single token"):
        TokenFile(path).current()


def test_a_missing_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        TokenFile(tmp_path / "absent").current()
