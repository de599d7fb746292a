"""One formatter for every cell a report shows (HTML, terminal, Markdown).

Values in the audit document are JSON values: ``None``, booleans, numbers, strings, lists,
mappings. Printing them with ``str()`` leaks Python spellings ("None", "True") and, for
evidence cut from binary data, escape soup (``\\x00\\x00F;ge\\x8c``). :func:`cell` turns any
of them into the text a reader expects: absent as an em dash, booleans as words, bytes as
hex plus their printable ASCII, times in ISO 8601. Escaping for the output medium (HTML
autoescape, rich markup, Markdown) is the renderer's job; this only chooses the words.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from ..textsafe import printable

ABSENT = "—"
_ESCAPE = re.compile(r"\\x([0-9a-fA-F]{2})")


def as_bytes(text: str) -> bytes | None:
    r"""The bytes behind a string cut from binary data, or ``None`` when it reads as text.

    Evidence texts hold raw bytes decoded one byte per character, with control bytes
    written as ``\xNN`` (see :func:`ecuscan.textsafe.printable`). Such a string is binary
    when under 85 % of its bytes are printable ASCII.

    >>> as_bytes(r"\x00\x00\x00\x00F;ge\x8cv")
    b'\x00\x00\x00\x00F;ge\x8cv'
    >>> as_bytes("invalid distance too far back") is None
    True
    >>> as_bytes("incorrect header check\\x00") is None
    True
    """
    if not text or any(ord(ch) > 0xFF for ch in text):
        return None
    raw = bytearray()
    pos = 0
    for m in _ESCAPE.finditer(text):
        raw.extend(text[pos:m.start()].encode("latin-1"))
        raw.append(int(m.group(1), 16))
        pos = m.end()
    raw.extend(text[pos:].encode("latin-1"))
    printable_ascii = sum(0x20 <= b < 0x7F for b in raw)
    if printable_ascii >= 0.85 * len(raw):
        return None
    return bytes(raw)


_TRAILING_NUL = re.compile(r"(?:\\x00)+(?=…?$)")


def _picture(byte: int) -> str:
    """A control byte as a visible symbol (Unicode control pictures: NUL as ␀, ESC as ␛)."""
    if byte < 0x20:
        return chr(0x2400 + byte)
    return "␡" if byte == 0x7F else "�"


def hex_ascii(data: bytes, limit: int = 32) -> str:
    """Bytes as hex followed by their printable ASCII (``.`` for the rest), cut at ``limit`` bytes.

    >>> hex_ascii(b"\\x00\\x01AB")
    '00 01 41 42  |..AB|'
    """
    head = data[:limit]
    more = "…" if len(data) > limit else ""
    text = "".join(chr(b) if 0x20 <= b < 0x7F else "." for b in head)
    return f"{head.hex(' ').upper()}{more}  |{text}|"


def text(value: str, limit: int = 400) -> str:
    r"""A string as shown: binary evidence as hex + ASCII, control characters neutralised, cut.

    >>> text("lwIP 2.2.1")
    'lwIP 2.2.1'
    >>> text(r"\x00\x00\x00\x00F;ge\x8cv")
    '00 00 00 00 46 3B 67 65 8C 76  |....F;ge.v|'
    >>> text(r"incorrect header check\x00"), text("red\x1b[0m")
    ('incorrect header check', 'red␛[0m')
    """
    raw = as_bytes(value)
    if raw is not None:
        return hex_ascii(raw)
    if not value:
        return ABSENT
    shown = _TRAILING_NUL.sub("", printable(value, limit))  # a C string's terminator says nothing
    return _ESCAPE.sub(lambda m: _picture(int(m.group(1), 16)), shown)


def cell(value: Any, *, limit: int = 400, yes: str = "yes", no: str = "no") -> str:
    """Any document value as the text of one table cell.

    >>> [cell(v) for v in (None, True, False, "", 3, 0.5, ["a", None], {"k": 1})]
    ['—', 'yes', 'no', '—', '3', '0.5', 'a, —', 'k=1']
    >>> cell(b"\\x00A")
    '00 41  |.A|'
    >>> cell(datetime(2026, 1, 2, 3, 4, 5))
    '2026-01-02T03:04:05'
    """
    if value is None:
        return ABSENT
    if isinstance(value, bool):
        return yes if value else no
    if isinstance(value, bytes | bytearray | memoryview):
        return hex_ascii(bytes(value))
    if isinstance(value, datetime):
        return value.isoformat(timespec="seconds")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return text(value, limit)
    if isinstance(value, Mapping):
        return "; ".join(f"{cell(k)}={cell(v)}" for k, v in value.items()) or ABSENT
    if isinstance(value, list | tuple | set | frozenset):
        items = sorted(value, key=str) if isinstance(value, set | frozenset) else value
        return ", ".join(cell(v, limit=limit) for v in items) or ABSENT
    return printable(str(value), limit)


def best_evidence(found: Any) -> Any:
    """The evidence a reader understands best among the components ``found``: a version
    string, else a readable one, else the most confident; ``None`` when there is none."""
    evidence = [e for c in found for e in c.evidence]
    if not evidence:
        return None

    def readable(e: Any) -> bool:
        return bool(e.text or e.detail) and as_bytes(e.text or e.detail) is None and "\\x" not in (e.text or "")

    return max(evidence, key=lambda e: (e.method.value == "version-string", readable(e), e.confidence))


def evidence_line(found: Any, limit: int = 200) -> str:
    """``method @0xOFFSET text`` of :func:`best_evidence` (binary text as hex + ASCII)."""
    ev = best_evidence(found)
    if ev is None:
        return ""
    where = f" @0x{ev.offset:x}" if ev.offset is not None else ""
    return f"{ev.method.value}{where} {text(ev.text or ev.detail or '', limit)}"


_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z])")
#: sentences that say where a flaw is (product, versions) rather than what it is
_BOILERPLATE = re.compile(r"^(an issue was discovered|a (vulnerability|flaw|bug|security issue) (was|has been) "
                          r"(found|discovered|identified))|\b(before|through|prior to) v?\d[\w.]*( and [^.]*)?\.?$",
                          re.I)


def flaw(description: str | None, limit: int = 240) -> str:
    """The sentence of a vulnerability description that names the flaw (not the "An issue was
    discovered in X before Y" sentence that only names the product and versions).

    >>> flaw("An issue was discovered in Mbed TLS 2.x before 2.28.7. There was a timing side channel in RSA.")
    'There was a timing side channel in RSA.'
    >>> flaw("Heap overflow in inflate(). More text.")
    'Heap overflow in inflate().'
    """
    sentences = [x.strip() for x in _SENTENCE.split(description or "") if x.strip()]
    chosen = next((x for x in sentences if not _BOILERPLATE.search(x)), sentences[0] if sentences else "")
    return printable(chosen, limit) if chosen else ABSENT


def offset(value: int | None) -> str:
    """A byte offset or address in hex, or the absent mark.

    >>> offset(4096), offset(None)
    ('0x1000', '—')
    """
    return ABSENT if value is None else f"0x{value:x}"


def percent(value: float | None) -> str:
    """A fraction as a whole percentage.

    >>> percent(0.667), percent(None)
    ('67%', '—')
    """
    return ABSENT if value is None else f"{value:.0%}"


def count(items: Any, none: str = "none") -> str:
    """A list joined with commas, or ``none`` when it is empty.

    >>> count(["tcu", "bcm"]), count([])
    ('tcu, bcm', 'none')
    """
    if not items:
        return none
    return ", ".join(cell(i) for i in items)


def weaknesses(finding: Mapping[str, Any], limit: int = 160) -> str:
    """The CWEs of a finding as a reader wants them: ``CWE-787 Out-of-bounds Write`` when a record
    named the weakness, the bare id when none did; the absent mark when there is none.

    >>> weaknesses({"cwes": ["CWE-787", "CWE-20"], "weaknesses": [{"id": "CWE-787", "name": "Out-of-bounds Write"},
    ...                                                            {"id": "CWE-20", "name": None}]})
    'CWE-787 Out-of-bounds Write, CWE-20'
    >>> weaknesses({"cwes": ["CWE-79"]}), weaknesses({})
    ('CWE-79', '—')
    """
    named = finding.get("weaknesses")
    items = named if isinstance(named, list) and named else [{"id": c} for c in finding.get("cwes") or []]
    shown = []
    for w in items:
        if not isinstance(w, Mapping) or not w.get("id"):
            continue
        name = w.get("name")
        shown.append(text(f"{w['id']} {name}" if isinstance(name, str) and name else str(w["id"]), limit))
    return ", ".join(shown) or ABSENT
