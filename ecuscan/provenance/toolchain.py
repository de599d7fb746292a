"""Toolchain banners: which compiler (version, flags) built the image.

Three sources, strongest first: the ELF ``.comment`` strings, the DWARF ``DW_AT_producer``
of each compile unit, and banner strings found anywhere in the bytes (flash payloads keep
no sections, but compilers such as IAR, TASKING or armcc leave identification strings).

The banner grammars are written by hand because no library recognises embedded compiler
banners; each pattern is bounded (at most a few hundred bytes per match).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from ecuscan.model import Buffer, Toolchain

SOURCE_COMMENT = "comment"
SOURCE_DWARF = "dwarf-producer"
SOURCE_STRING = "string"

_VERSION = r"\d+(?:\.\d+){1,3}"

# Banner starts (also the triggers of the shared scan in ``textscan``); each banner is
# followed by up to 200 printable bytes.
BANNER_STARTS = (
    rb"GCC: \(", rb"clang version \d", rb"Component: ARM Compiler", rb"ARM C/C\+\+ Compiler",
    rb"ARM Compiler \d", rb"Arm Compiler for Embedded \d", rb"IAR ", rb"Green Hills Software",
    rb"TASKING VX-toolset", rb"HighTec ", rb"Wind River Diab", rb"Diab Data", rb"CodeWarrior",
    rb"Metrowerks", rb"MWCC",
)
BANNER_RE = re.compile(
    rb"(?:GCC: \(|clang version \d|Component: ARM Compiler|ARM C/C\+\+ Compiler|"
    rb"ARM Compiler \d|Arm Compiler for Embedded \d|IAR [A-Za-z /+]{0,40}Compiler V\d|"
    rb"Green Hills Software|TASKING VX-toolset|HighTec |Wind River Diab|Diab Data|"
    rb"CodeWarrior|Metrowerks|MWCC)[\x20-\x7e]{0,200}"
)
_PRINTABLE = frozenset(range(0x20, 0x7F))
_MAX_LEAD = 40  # vendor words before "clang version" ("Ubuntu clang version ...")

_FLAG_ARG_DROP = {"-D", "-U", "-I", "-include", "-imacros", "-isystem", "-iquote", "-idirafter",
                  "-o", "-MF", "-MT", "-MQ"}
_FLAG_PREFIX_DROP = ("-D", "-U", "-I", "-isystem", "-iquote", "-idirafter", "-MF", "-MT", "-MQ")
_MAX_FLAGS = 64


@dataclass(frozen=True)
class BannerHit:
    """A toolchain banner found in the bytes (offset into the scanned buffer)."""

    offset: int
    toolchain: Toolchain


def split_flags(text: str) -> tuple[str, ...]:
    """Split a command-line tail into flags, dropping defines and include directories.

    ``-D``/``-U``/``-I`` options are left out (defines often carry product secrets and
    are noise for provenance); repeated identical flags keep their last position, since
    for GCC the last of conflicting options wins.

    >>> split_flags("-mcpu=cortex-m4 -DSECRET=1 -I /x -g -O2 -g")
    ('-mcpu=cortex-m4', '-O2', '-g')
    """
    tokens = text.split()
    kept: list[str] = []
    skip_next = False
    for tok in tokens:
        if skip_next:
            skip_next = False
            continue
        if tok in _FLAG_ARG_DROP:
            skip_next = True
            continue
        if not tok.startswith("-") or tok.startswith(_FLAG_PREFIX_DROP):
            continue
        kept.append(tok)
    seen: set[str] = set()
    out: list[str] = []
    for tok in reversed(kept):
        if tok not in seen:
            seen.add(tok)
            out.append(tok)
    out.reverse()
    return tuple(out[-_MAX_FLAGS:])


def _first(pattern: str, text: str) -> str | None:
    m = re.search(pattern, text)
    return m.group(1) if m else None


def parse_banner(text: str, source: str, limit: int = 200) -> Toolchain | None:
    """Recognise one banner or producer string; ``None`` when it names no known toolchain.

    >>> t = parse_banner("GCC: (15:12.2.rel1-1) 12.2.1 20221205", "comment")
    >>> (t.name, t.version)
    ('GCC', '12.2.1')
    >>> t = parse_banner("TASKING VX-toolset for TriCore: C compiler v6.3r1 Build 19041958", "string")
    >>> (t.name, t.version)
    ('TASKING', '6.3r1')
    """
    text = text.strip()
    shown = text[:limit]
    name: str | None = None
    version: str | None = None
    flags: tuple[str, ...] = ()

    if "HighTec" in text:
        name = "HighTec"
        version = _first(r"HighTec[^)]*?v(" + _VERSION + ")", text) or _first(r"\)\s*(" + _VERSION + ")", text)
    elif text.startswith("GCC: ("):
        name = "GCC"
        version = _first(r"\)\s*(" + _VERSION + ")", text)
    elif m := re.match(r"GNU (AS|as)\s+(" + _VERSION + ")", text):
        name, version = "GNU as", m.group(2)
    elif m := re.match(r"GNU (?:C|C\+\+|Fortran|Objective-C|Ada|GIMPLE|D|Go|Rust)[\w+]*\s+(" + _VERSION + r")\S*(.*)",
                       text, re.S):
        name, version = "GCC", m.group(1)
        flags = split_flags(m.group(2))
    elif m := re.search(r"clang version (" + _VERSION + r")\S*(.*)", text, re.S):
        name, version = "clang", m.group(1)
        tail = m.group(2)
        # Without -grecord-command-line the producer ends with the repository in parentheses.
        flags = split_flags(re.sub(r"\([^)]*\)", " ", tail))
    elif "ARM Compiler" in text or "Arm Compiler" in text or "ARM C/C++ Compiler" in text:
        version = (_first(r"(?:ARM|Arm) Compiler(?: for Embedded)?\s+(\d+\.\d+(?:\.\d+)?(?: update \d+)?)", text)
                   or _first(r"ARM C/C\+\+ Compiler,?\s+(\d+\.\d+(?: update \d+)?)", text))
        major = version.split(".")[0] if version else ""
        name = "armclang" if ("armclang" in text or (major.isdigit() and int(major) >= 6)) else "armcc"
    elif text.startswith("IAR"):
        name = "IAR"
        version = _first(r"V(\d+(?:\.\d+){1,3})", text)
    elif "Green Hills" in text:
        name = "Green Hills"
        version = _first(r"Green Hills Software[^\x00]{0,80}?v?(\d{1,4}(?:\.\d+){1,3})", text)
    elif text.startswith("TASKING"):
        name = "TASKING"
        version = _first(r"\bv(\d+\.\d+(?:r\d+)?(?:p\d+)?)", text)
    elif "Diab" in text:
        name = "Diab"
        version = _first(r"Diab[^\x00]{0,60}?(" + _VERSION + ")", text)
    elif any(k in text for k in ("CodeWarrior", "Metrowerks", "MWCC")):
        name = "CodeWarrior"
        version = _first(r"[Vv]ersion\s+(\d+(?:\.\d+){0,3}(?: build \d+)?)", text) or _first(
            r"\bv?(" + _VERSION + ")", text)
    if name is None:
        return None
    return Toolchain(name=name, version=version, source=source, text=shown, flags=flags)


def banner_at(data: Buffer, pos: int, limit: int = 200) -> BannerHit | None:
    """The toolchain banner starting at ``pos`` in ``data``, if one does."""
    m = BANNER_RE.match(data, pos, pos + 260)
    if m is None:
        return None
    lead = bytes(data[max(0, pos - _MAX_LEAD):pos]) if m.group().startswith(b"clang") else b""
    keep = 0
    while keep < len(lead) and lead[len(lead) - 1 - keep] in _PRINTABLE:
        keep += 1
    # Keep only the word right before "clang" (the vendor: Ubuntu, Apple, Debian ...).
    word = lead[len(lead) - keep:].rstrip(b" ").rsplit(b" ", 1)[-1] if keep else b""
    keep = len(word) + 1 if word else 0
    raw = (word + b" " if word else b"") + m.group()
    tc = parse_banner(raw.decode("ascii", "replace"), SOURCE_STRING, limit)
    return None if tc is None else BannerHit(pos - keep, tc)


def collect(comments: Iterable[str], producers: Iterable[str], hits: Iterable[BannerHit],
            max_items: int, limit: int = 200) -> tuple[Toolchain, ...]:
    """Merge the three sources, strongest first, dropping duplicates.

    A toolchain already known from ``.comment`` or DWARF is not repeated from the raw
    strings (the ``.comment`` bytes are themselves inside an ELF file's buffer).
    """
    out: list[Toolchain] = []
    seen: set[tuple[str, str | None, tuple[str, ...]]] = set()
    named: set[tuple[str, str | None]] = set()

    def add(tc: Toolchain | None) -> None:
        if tc is None or len(out) >= max_items:
            return
        key = (tc.name, tc.version, tc.flags)
        if key in seen or (tc.source == SOURCE_STRING and (tc.name, tc.version) in named):
            return
        seen.add(key)
        named.add((tc.name, tc.version))
        out.append(tc)

    for c in comments:
        add(parse_banner(c, SOURCE_COMMENT, limit))
    for p in producers:
        add(parse_banner(p, SOURCE_DWARF, limit))
    for h in hits:
        add(h.toolchain)
    return tuple(out)
