"""Text for a terminal: file names and reasons shown as they are, never as commands.

A file name may hold any byte but `/` and NUL: a newline (which would print a line that
looks like another result), or an escape sequence that retitles, clears or recolours the
terminal. Human output passes every name through `shown`, which writes control characters
as Python-style escapes (`\\n`, `\\x1b`) and bytes that are not UTF-8 as `\\xff`. JSON output
needs none of this: its strings are escaped by the JSON encoder.
"""

from __future__ import annotations

import re

_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    if char in _NAMED:
        return _NAMED[char]
    code = ord(char)
    if 0xDC80 <= code <= 0xDCFF:  # a byte that was not UTF-8 (surrogateescape)
        return f"\\x{code - 0xDC00:02x}"
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def shown(text: object) -> str:
    """`text` safe to print on a terminal: one line, no control characters."""
    return _CONTROL.sub(_escape, str(text))
