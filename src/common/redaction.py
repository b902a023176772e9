"""The one way a password in a URL is hidden, wherever a URL may be shown to a person: logs, banners,
configuration errors, benchmark reports."""

from __future__ import annotations

import re

# scheme://user:password@host... -> scheme://user:***@host... (user and password as SQLAlchemy reads them).
_PASSWORD = re.compile(r"(://[^:/@]*:)[^@]*@")


def redacted(text: str) -> str:
    """``text`` with the password of any URL in it masked. Works on text that is no valid URL too (a
    port that is not a number, a stray space): the password of a malformed URL is hidden as well, and
    a log line is never what fails."""
    return _PASSWORD.sub(r"\1***@", text)
