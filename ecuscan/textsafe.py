"""Making hostile strings safe to show: the one place that neutralises control characters.

Strings from firmware, SBOMs, feeds and CAN frames may hold terminal escapes (ESC), bells,
line breaks that forge a line of output, or Unicode bidirectional overrides (U+202E makes
``exe.txt`` display as ``txt.exe``). Every output path goes through here:

- :func:`printable` for one line of terminal or log text (every control character, line
  break and bidi control becomes a visible ``\\xNN`` / ``\\uNNNN``; cut to a length);
- :func:`neutralise` for longer text where line breaks are fine (HTML reports: Jinja2's
  ``finalize`` hook runs it on every value the template prints, before autoescaping, so a
  template cannot forget it). Rich markup is escaped by the CLI with ``rich.markup.escape``,
  HTML markup by the report templates' autoescaping.
"""

from __future__ import annotations

import re

from markupsafe import Markup

#: C0 controls but tab and line feed, DEL, C1 controls, and the Unicode format characters that
#: reorder or hide text: bidi marks/embeddings/overrides/isolates (U+061C, U+200E-F, U+202A-E,
#: U+2066-9), zero-width joiners and the BOM (U+200B-D, U+2060, U+FEFF), and the Unicode line and
#: paragraph separators (U+2028-9), which some viewers break lines on.
_UNSAFE = "\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200b-\u200f\u2028-\u202e\u2060\u2066-\u2069\ufeff"
_CONTROL = re.compile(f"[{_UNSAFE}\t\n]")
_CONTROL_MULTILINE = re.compile(f"[{_UNSAFE}]")


def _escape(m: re.Match[str]) -> str:
    code = ord(m.group())
    return f"\\x{code:02x}" if code < 256 else f"\\u{code:04x}"


def printable(text: str, limit: int = 200, *, keep_lines: bool = False) -> str:
    r"""One line of text: control characters (ESC, newline, bidi overrides ...) become ``\xNN`` /
    ``\uNNNN``; cut to ``limit`` characters. ``keep_lines``: tab and line feed stay (for values
    stored as data, such as evidence text, that every output escapes again when it shows them).

    >>> printable("ok\x1b[31mred")
    'ok\\x1b[31mred'
    >>> printable("lib.so\nerror: forged line")
    'lib.so\\x0aerror: forged line'
    >>> printable("a" * 10, limit=4)
    'aaaa…'
    """
    out = (_CONTROL_MULTILINE if keep_lines else _CONTROL).sub(_escape, text)
    return out if len(out) <= limit else out[:limit] + "…"


def neutralise(text: str) -> str:
    r"""Text that may span lines: every control and bidi character but tab and line feed
    becomes ``\xNN`` / ``\uNNNN``; nothing is cut.

    >>> neutralise("evil\u202etxt.exe\x07\nnext")
    'evil\\u202etxt.exe\\x07\nnext'
    """
    return _CONTROL_MULTILINE.sub(_escape, text)


def finalize_for_html(value: object) -> object:
    """Jinja2 ``finalize`` hook: every printed string is :func:`neutralise`\\ d before autoescaping.

    Markup (a ``join`` of escaped items, the report's checked SVG) is neutralised too and stays
    markup: the replacements hold no ``<``, ``&`` or quote, so they cannot change its structure.
    Non-strings pass unchanged."""
    if isinstance(value, Markup):
        return Markup(neutralise(str(value)))  # noqa: S704 - only control characters are replaced
    if isinstance(value, str):
        return neutralise(value)
    return value
