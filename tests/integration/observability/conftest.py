from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from tests.support.metered_pair import MeteredPair, metered_pair


@pytest.fixture
def pair(make_database_url: Callable[[str], str]) -> Iterator[MeteredPair]:
    with metered_pair(make_database_url) as running:
        yield running
