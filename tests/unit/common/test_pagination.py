"""Paging tokens and sizes (AIP-158)."""

from __future__ import annotations

import base64

import pytest
from hypothesis import given
from hypothesis import strategies as st

from common.errors import InvalidArgument
from common.pagination import (
    DEFAULT_PAGE_SIZE,
    MAX_PAGE_SIZE,
    decode_token,
    effective_page_size,
    encode_token,
)

KEYS = {"t", "id"}


@pytest.mark.parametrize(
    ("requested", "used"), [(0, 50), (-3, 50), (1, 1), (500, 500), (501, 500), (2**31 - 1, 500)]
)
def test_page_size_defaults_to_50_and_is_capped_at_500(requested: int, used: int) -> None:
    assert (DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE) == (50, 500)
    assert effective_page_size(requested) == used


@given(st.fixed_dictionaries({"t": st.text(), "id": st.text()}))
def test_a_token_decodes_to_the_position_it_encodes(position: dict[str, str]) -> None:
    token = encode_token(position)
    assert "=" not in token
    assert decode_token(token, keys=KEYS) == position


def test_an_empty_token_means_the_first_page() -> None:
    assert decode_token("", keys=KEYS) is None


def b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode()


@pytest.mark.parametrize(
    "token",
    [
        "not a token!",
        "@@@@",
        "é",
        b64(b"\xff\xfe"),
        b64(b"[1, 2]"),
        b64(b'"text"'),
        b64(b'{"t": 1}'),
        b64(b'{"t": 1, "id": 2, "extra": 3}'),
        encode_token({"offset": 10}),
    ],
)
def test_a_forged_token_is_invalid_argument_on_the_field(token: str) -> None:
    with pytest.raises(InvalidArgument) as raised:
        decode_token(token, keys=KEYS, field="cursor")
    assert [v.field for v in raised.value.violations] == ["cursor"]
