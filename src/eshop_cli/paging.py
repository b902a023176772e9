"""``list --all``: follow a List RPC's pages (AIP-158) and fold them into one response."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol, TypeVar


class Page(Protocol):
    next_page_token: str


Response = TypeVar("Response", bound=Page)


def fetch_pages(call: Callable[[Any], Response], request: Any, items: str, follow: bool) -> Response:
    """The page ``request`` asks for; with ``follow``, every page after it too, their repeated field
    ``items`` appended to the first page, whose ``next_page_token`` ends up empty."""
    result = call(request)
    while follow and result.next_page_token:
        request.page_token = result.next_page_token
        page = call(request)
        getattr(result, items).extend(getattr(page, items))
        result.next_page_token = page.next_page_token
    return result
