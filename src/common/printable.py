"""Text a person reads safely on one line: every character that is not printable escaped.

A caller's subject, a product name or a reason may hold a line break (a forged log line), a terminal
escape sequence, or an invisible bidirectional override (text that reads other than it is). The text log
and the configuration problems shown on stderr pass such values through ``printable``.
"""

from __future__ import annotations

_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def printable(text: str) -> str:
    """``text`` with each non-printable character (``str.isprintable``: controls, line and paragraph
    separators, format characters, spaces other than U+0020) written as an escape: ``\\n``, ``\\x1b``,
    ``\\u2028``."""
    if text.isprintable():  # nearly always: one pass in C
        return text
    return "".join(char if char.isprintable() else _escaped(char) for char in text)


def _escaped(char: str) -> str:
    code = ord(char)
    if char in _NAMED:
        return _NAMED[char]
    if code <= 0xFF:
        return f"\\x{code:02x}"
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"
