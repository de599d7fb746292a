"""Making hostile strings safe to show.

Strings from firmware, SBOMs, feeds and CAN frames may hold terminal escapes, control
characters or markup. :func:`printable` neutralises control characters for terminals and
logs; rich markup is escaped by the CLI with ``rich.markup.escape`` and HTML by the report
templates' autoescaping.
"""

from __future__ import annotations

import re

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def printable(text: str, limit: int = 200) -> str:
    r"""Replace control characters (ESC, bidi overrides ...) with ``\xNN`` and cut to ``limit``.

    >>> printable("ok\x1b[31mred")
    'ok\\x1b[31mred'
    >>> printable("a" * 10, limit=4)
    'aaaa…'
    """
    out = _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}" if ord(m.group()) < 256
                       else f"\\u{ord(m.group()):04x}", text)
    return out if len(out) <= limit else out[:limit] + "…"
