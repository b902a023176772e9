"""Database URLs as they may be shown to a person: in logs, banners and benchmark reports."""

from __future__ import annotations

from sqlalchemy.engine import make_url


def redacted(url: str) -> str:
    """The URL with its password masked; a malformed URL is returned as given, since whoever uses it
    will report what is wrong with it, and a log line must never be what fails."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # make_url raises ArgumentError, ValueError, ... depending on how it is malformed
        return url
