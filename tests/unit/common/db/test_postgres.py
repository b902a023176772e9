"""PostgreSQL's wait at start is bounded: each connection attempt's timeout is cut to the time left."""

from __future__ import annotations

import time
from typing import Any

from common.db.postgres import _cut_connect_timeout


def _timeout(seconds_left: float, **params: Any) -> Any:
    cut = _cut_connect_timeout(time.monotonic() + seconds_left)
    cut(None, None, (), params)
    return params["connect_timeout"]


def test_an_attempts_connect_timeout_is_cut_to_the_time_left_and_never_below_libpqs_two_seconds() -> None:
    assert _timeout(30.0, connect_timeout=5) == 5  # the configured one, when there is time for it
    assert _timeout(3.4, connect_timeout=5) == 4
    assert _timeout(3.4, connect_timeout="3") == 3  # from the URL's query: a string
    assert _timeout(0.3, connect_timeout=5) == 2  # libpq takes less than 2 s as 2
