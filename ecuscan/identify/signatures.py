"""Version-string signatures: the catalog's ``patterns``, ``markers`` and ``version_hints`` over the bytes.

Throughput is the point of this module's shape. Python's ``re`` has no multi-pattern
automaton, and one alternation of ~200 patterns runs at a fraction of the speed of a single
scan, so the bytes are read with cheap prefilters and the full patterns only run on small
windows:

* every version pattern captures a version that contains ``<digit>.<digit>``; one regex for
  exactly that (``[0-9]\\.[0-9]``, ~200 MB/s) finds the few places worth looking at;
* around each such place (a window of :data:`WINDOW_BEFORE` / :data:`WINDOW_AFTER` bytes,
  overlapping windows coalesced) one alternation of the patterns' literal *anchors* (the
  longest literal run of each pattern, extracted with the regex parser) tells which full
  patterns to run, and only those run, on the window;
* the same places give the NUL-delimited strings that ``version_hints`` are checked against;
* markers (presence without a version) have no digits to key on: they get one alternation
  pass of the tails of their anchors, factored by first byte; the tails start at bytes of one
  small set chosen for all markers together (:func:`marker_anchors`), because ``re`` spends its
  time on positions whose first byte is in the alternation's first-byte set and then on each
  branch.

The buffer is never copied: ``re`` searches ``bytes`` and ``mmap`` alike with ``pos``/``endpos``.
"""

from __future__ import annotations

import hashlib
import json
import mmap
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from pathlib import Path
from re import _constants as sre_constants  # type: ignore[attr-defined]
from re import _parser as sre_parse  # type: ignore[attr-defined]
from typing import TYPE_CHECKING, Any

from ..catalog import Catalog, CatalogEntry
from ..errors import CatalogError
from ..identity import TABLE_PREFIX
from ..keptfile import read_kept, write_kept
from ..limits import Limits
from ..mapped import Behind
from ..model import Buffer, ComponentId, EvidenceMethod, Image, Relation
from ._hits import HINT_CONFIDENCE, Hit, decode, make_evidence

if TYPE_CHECKING:
    from ..provenance.prefilter import PassSet

#: Bytes searched before / after a ``digit.digit`` place for an anchor and its pattern.
WINDOW_BEFORE = 200
WINDOW_AFTER = 120
#: Longest NUL-delimited string considered for ``version_hints``.
MAX_STANDALONE = 64
#: Shortest literal anchor a pattern or marker must contain.
MIN_ANCHOR = 3
#: Most distinct standalone strings remembered per image (bounds memory on hostile input).
MAX_STANDALONE_STRINGS = 20_000

#: Bytes searched around a hit for the text it stands in (advisory prose, see :func:`in_advisory`).
ADVISORY_CONTEXT = 400
_ADVISORY = re.compile(rb"CVE-\d{4}-\d{4,}|[Vv]ulnerab|\b(?:prior to|before|through|and earlier|or earlier|allows?"
                       rb"|[Aa]n issue was discovered|[Bb]uffer overflow|[Uu]se-after-free)\b")
_DIGIT_DOT = re.compile(rb"[0-9]\.[0-9]")
_PRINTABLE = re.compile(rb"[\x20-\x7e]+")
_PRINTABLE_TAIL = re.compile(rb"[\x20-\x7e]*\Z")
_PUNCT = bytes(range(0x20, 0x30)) + bytes(range(0x3a, 0x41)) + bytes(range(0x5b, 0x61)) + bytes(range(0x7b, 0x7f))


def in_advisory(data: bytes | bytearray | mmap.mmap, start: int, end: int) -> bool:
    """True when the text around ``data[start:end]`` reads like a vulnerability advisory.

    A CVE description inside an image ("... in Lua 5.4.0 through 5.4.3 allows ...", a vulnerability
    feed shipped on the device) names a product and a version without holding its code. The check
    looks at the printable run around the hit (at most :data:`ADVISORY_CONTEXT` bytes each way).

    >>> in_advisory(b"\\x00CVE-2022-28805: singlevar in lparser.c in Lua 5.4.0 through 5.4.3\\x00", 40, 55)
    True
    >>> in_advisory(b"\\x00Lua 5.4.6  Copyright (C) 1994-2023 Lua.org, PUC-Rio\\x00", 1, 10)
    False
    """
    lo = max(0, start - ADVISORY_CONTEXT)
    hi = min(len(data), end + ADVISORY_CONTEXT)
    head = _NONPRINT_TAIL.search(data, lo, start)
    s0 = head.end() if head is not None else lo
    tail = _NONPRINT.search(data, end, hi)
    s1 = tail.start() if tail is not None else hi
    return _ADVISORY.search(data, s0, s1) is not None


_NONPRINT = re.compile(rb"[^\x20-\x7e\t\r\n]")
_NONPRINT_TAIL = re.compile(rb"[^\x20-\x7e\t\r\n](?=[\x20-\x7e\t\r\n]*\Z)")


def literal_anchor(pattern: bytes) -> bytes:
    """The longest run of literal bytes at the top level of ``pattern`` (outside groups and repeats).

    >>> literal_anchor(rb"(?:deflate|inflate) (?P<v>\\d+\\.\\d+) Copyright")
    b' Copyright'
    >>> literal_anchor(rb"OpenSSH_(?P<v>\\d+\\.\\d+)")
    b'OpenSSH_'
    """
    return _top_literal_run(sre_parse.parse(pattern, 0))


def _top_literal_run(parsed: Any) -> bytes:
    """:func:`literal_anchor` of a pattern already parsed (``re``'s parser's ``SubPattern``)."""
    best: list[int] = []
    run: list[int] = []
    for op, av in parsed:
        if op is sre_constants.LITERAL:
            run.append(av)
            continue
        if len(run) > len(best):
            best = run
        run = []
    if len(run) > len(best):
        best = run
    return bytes(best)


#: Every byte value from rarest to commonest, by its frequency in the ELF files of the development
#: corpus (armhf, arm64 and riscv64 programs and libraries, one file in three). The marker prefilter
#: starts each anchor at its rarest byte, because ``re`` spends its time on the positions whose
#: byte is in the alternation's first-byte set (measured: the marker pass 1.10 s instead of 1.40 s
#: over the corpus, against a ranking of the printable bytes only).
_BYTE_RARITY = bytes.fromhex(
    "abcfaf7eac5dcba7bb8eb659ce5eb2aebea4badb7da551dccdbca3b1c5ee8d57c71d8adacccaed4db3b83bd9c4c2c6a6"
    "a1ad7c552fc9565a6a8c8f5c9cdfbd7799f27f2b9a965be69e19769d7ab5369fde1e922cd8c3298bb75831ddc8ec27f6"
    "95a837334bfa2e4cd13cfb98d7ea3ee949359b8838c18726a2f189e4321b6b39b41a4e154811e5860dd3fc3ad4241634"
    "824a1ce7626d6678fe500f847b714f90253f1875f5f4f3eb94b0bf28e8d067d6537912e32d43e209a014813d68300b45"
    "6c47702afdb9221021f7efd2d51f54937264e14483c00a6e6f60850e0c5223f869135f17a973f0076106417408460542"
    "aa6397659104e0f980204002ff010300"
)
_RANK = [0] * 256
for _i, _b in enumerate(_BYTE_RARITY):
    _RANK[_b] = _i


def rare_anchor(anchor: bytes, width: int = 5) -> bytes:
    """The tail of ``anchor`` that starts at its rarest byte (keeping ``width`` bytes at least).

    >>> rare_anchor(b"pcb->refused_data == NULL")
    b'>refused_data == NULL'
    >>> rare_anchor(b"Avahi")
    b'Avahi'
    """
    if len(anchor) <= width:
        return anchor
    start = min(range(len(anchor) - width + 1), key=lambda i: (_RANK[anchor[i]], i))
    return anchor[start:]


#: Frequency of each byte value in the ELF files of the development corpus (one file in three),
#: as ``round(8 * log2(count + 1))``: the weights of :func:`marker_anchors`.
_BYTE_LOG_FREQ = bytes.fromhex(
    "c1a1a0a59b979595968e938f9389938b91888d948e8889948c8488888a8185929f919194898b87858c859084858d8682"
    "8f8588868987848687888982868f878c9f96988e928f979089878a868681888b8a7f948d92828280857d8284837c7d94"
    "93958a98929a8a8d8f9482888f8a9393908b9294968c84838a8d848b827f7c849e8f89938a93898787888085827f7d82"
    "8b9a85928c86849887838487838484848d8287807e7f827d8694987a7d827d7a8c807d8188847d8582917e7d80837e8d"
    "93878285828082808582817d81807d7a8d87928989928d878582817f808585839c928e8c8887848a8c87878c85818091"
    "9588848c8c8c8592949d868789918ba0"
)
#: Shortest tail a marker anchor is cut to.
MARKER_TAIL = 4


def marker_anchors(anchors: list[bytes]) -> dict[bytes, bytes]:
    """Each marker anchor cut to a tail starting at a byte of one small shared set (anchor -> tail).

    ``re`` spends the marker pass on positions whose byte is in the alternation's first-byte set,
    so the cost is the summed frequency of the *distinct* first bytes, not the anchors' count.
    The first bytes are chosen as a weighted hitting set: greedily, the byte that starts the most
    still-uncovered anchors per unit of its frequency in binaries (measured: 370 anchors cut this
    way search 2x faster than each cut at its own rarest byte, and faster than 71 anchors were).

    >>> cut = marker_anchors([b"invalid distance too far back", b"incorrect header check", b"Avahi"])
    >>> all(a.endswith(t) and len(t) >= 4 for a, t in cut.items())
    True
    """
    weight = [2.0 ** (f / 8) for f in _BYTE_LOG_FREQ]

    def starts(a: bytes) -> set[int]:
        return set(a[: len(a) - MARKER_TAIL + 1]) if len(a) > MARKER_TAIL else {a[0]}

    cover = {a: starts(a) for a in anchors if a}
    chosen: set[int] = set()
    left = set(cover)
    while left:
        counts: dict[int, int] = {}
        for a in left:
            for b in cover[a]:
                counts[b] = counts.get(b, 0) + 1
        best = min(counts, key=lambda b: (weight[b] / counts[b], b))
        chosen.add(best)
        left = {a for a in left if best not in cover[a]}
    out = {}
    for a in cover:
        if len(a) <= MARKER_TAIL:
            out[a] = a
            continue
        i = min((i for i in range(len(a) - MARKER_TAIL + 1) if a[i] in chosen), key=lambda i: (weight[a[i]], i))
        out[a] = a[i:]
    return out


@dataclass(frozen=True)
class _Rule:
    component: ComponentId
    rule_id: str
    #: the regex's source (compiled with ``re.DOTALL`` on first use: :attr:`regex`)
    pattern: bytes
    #: the rule gives a version (``v`` or ``v1``... groups), also when it runs in the marker pass
    versioned: bool = False
    #: the bytes the regex matches when it is one literal string (a marker tried with ``find``)
    literal: bytes | None = None
    #: the version is one ``v`` group (dotted: the rule is found from a ``digit.digit`` place)
    dotted: bool = False

    @cached_property
    def regex(self) -> re.Pattern[bytes]:
        """The compiled regex. Compiled when first needed: most rules never run on a given scan
        (their anchor is not in the bytes), and compiling all ~650 took most of a scan's
        start-up after the imports. The pattern was parsed and checked when the rule was made."""
        try:
            return re.compile(self.pattern, re.DOTALL)
        except re.error as exc:  # a check only the compiler makes (a look-behind of varying width)
            raise CatalogError(f"{self.rule_id}: bad regex {self.pattern!r}: {exc}") from exc


#: Names of the groups a pattern may read a version from in parts (``v1``.``v2``[.``v3``[.``v4``]]).
VERSION_PARTS = ("v1", "v2", "v3", "v4")
_MAX_PART = 12


def match_version(m: re.Match[bytes]) -> str | None:
    r"""The version a pattern's match gives: its ``v`` group, or its parts ``v1``..``v4`` joined by dots.

    Parts let a pattern read versions that are not written with dots: ``FLATBUFFERS_23_5_26``
    (``_`` between the numbers) or ``3045001`` (fixed-width fields, leading zeros dropped).

    >>> rx = re.compile(rb"FLATBUFFERS_(?P<v1>\d+)_(?P<v2>\d+)_(?P<v3>\d+)")
    >>> match_version(rx.search(b"Constants.FLATBUFFERS_23_5_26()"))
    '23.5.26'
    >>> match_version(re.compile(rb"(?P<v1>3)(?P<v2>\d{3})(?P<v3>\d{3})").match(b"3045001"))
    '3.45.1'
    """
    groups = m.re.groupindex
    if "v" in groups:
        v = m.group("v")
        return decode(v) if v is not None else None
    parts = [m.group(name) for name in VERSION_PARTS if name in groups]
    parts = [p for p in parts if p]
    if not parts or any(len(p) > _MAX_PART for p in parts):
        return None
    return ".".join(decode(p.lstrip(b"0") or b"0") if p.isdigit() else decode(p) for p in parts)


@dataclass
class SignatureSet:
    """The catalog's byte signatures, compiled once and grouped by literal anchor."""

    version_anchor_rx: re.Pattern[bytes] | None
    marker_anchor_rx: re.Pattern[bytes] | None
    by_version_anchor: dict[bytes, list[_Rule]] = field(default_factory=dict)
    by_marker_anchor: dict[bytes, list[_Rule]] = field(default_factory=dict)
    hints: dict[ComponentId, list[_Rule]] = field(default_factory=dict)


def _anchor_regex(anchors: list[bytes]) -> re.Pattern[bytes] | None:
    """One regex for all ``anchors``, factored by first byte (``a(?:bc|d)|x(?:yz)``).

    ``re`` tries every branch of an alternation at each candidate position; factoring by the
    first byte leaves one branch per distinct byte (about 1.5x faster on the marker anchors).
    Within a group, longest first, so an anchor that is a prefix of a longer one does not hide it.

    >>> rx = _anchor_regex([b"abc", b"ab", b"xyz"])
    >>> [m.group() for m in rx.finditer(b"ab abc xyz")]
    [b'ab', b'abc', b'xyz']
    """
    if not anchors:
        return None
    groups: dict[bytes, set[bytes]] = {}
    for a in anchors:
        groups.setdefault(a[:1], set()).add(a[1:])
    parts = []
    for first, rests in sorted(groups.items()):
        alts = b"|".join(re.escape(r) for r in sorted(rests, key=lambda r: (-len(r), r)))
        parts.append(re.escape(first) + (b"(?:" + alts + b")" if len(rests) > 1 else alts))
    return re.compile(b"|".join(parts))


def _find_anchors(rx: re.Pattern[bytes], data: Buffer, lo: int, hi: int) -> Iterator[re.Match[bytes]]:
    """Every place in ``data[lo:hi]`` where an anchor of ``rx`` starts, overlapping ones included.

    ``finditer`` resumes after each match, so an anchor starting inside another's match is never
    seen: ``"syslogd started: "`` would hide ``"started: BusyBox v"`` and every rule keyed by it.
    Searching again from the next byte finds it; an anchor that is a *prefix* of a longer one at
    the same place is covered by :func:`_prefix_rules` (the alternation reports one per place).

    >>> rx = _anchor_regex([b"syslogd started: ", b"started: BusyBox v"])
    >>> [m.group() for m in _find_anchors(rx, b"syslogd started: BusyBox v1.37.0", 0, 32)]
    [b'syslogd started: ', b'started: BusyBox v']
    """
    pos = lo
    while True:
        m = rx.search(data, pos, hi)
        if m is None:
            return
        yield m
        pos = m.start() + 1


def _prefix_rules(by_anchor: dict[bytes, list[_Rule]]) -> None:
    """Give each anchor also the rules of every shorter anchor that is its prefix (in place).

    The anchor alternation reports the longest anchor at a place; rules keyed by a shorter anchor
    that starts the same way (``"FreeRTOS"`` inside ``"FreeRTOS Kernel V"``) then run too.
    """
    own = {a: list(rules) for a, rules in by_anchor.items()}
    for a in own:
        # every shorter anchor that is a prefix of this one, shortest first (one set lookup per length)
        extra = [r for k in range(1, len(a)) if a[:k] in own for r in own[a[:k]]]
        if extra:
            mine = own[a]
            by_anchor[a] = [*mine, *dict.fromkeys(r for r in extra if r not in mine)]


def _parse_rule(entry: CatalogEntry, kind: str, i: int, text: str) -> tuple[bytes, _Rule]:
    """Parse one regex of ``entry`` once: its groups are checked and its literal anchor and (for a
    one-literal regex) its bytes read from the parse; compiling it waits for its first use."""
    raw = text.encode("utf-8")
    try:
        parsed = sre_parse.parse(raw, re.DOTALL)
    except re.error as exc:
        raise CatalogError(f"entry {entry.id!r}: bad {kind} regex {text!r}: {exc}") from exc
    groupindex = parsed.state.groupdict
    parts = sorted((g for g in VERSION_PARTS if g in groupindex), key=groupindex.__getitem__)
    if kind == "pattern" and "v" not in groupindex and parts[:1] != ["v1"]:
        raise CatalogError(f"entry {entry.id!r}: pattern {text!r} has no (?P<v>...) group "
                           f"(nor the parts (?P<v1>...), (?P<v2>...)...)")
    if parts and parts != list(VERSION_PARTS[: len(parts)]):
        raise CatalogError(f"entry {entry.id!r}: {kind} {text!r}: version parts must be v1, v2... in order")
    anchor = _top_literal_run(parsed)
    if kind != "hint" and len(anchor) < MIN_ANCHOR:
        raise CatalogError(f"entry {entry.id!r}: {kind} {text!r} has no literal anchor of "
                           f"{MIN_ANCHOR}+ bytes outside groups (needed for the prefilter)")
    literal = None
    if not parsed.state.flags & re.IGNORECASE and all(op is sre_constants.LITERAL for op, _ in parsed):
        literal = bytes(av for _, av in parsed)
    return anchor, _rule(entry, kind, i, text, literal, "v" in groupindex)


def _rule(entry: CatalogEntry, kind: str, i: int, text: str, literal: bytes | None, dotted: bool) -> _Rule:
    """Rule ``i`` of ``kind`` of ``entry`` with what its parse gave (fresh or kept)."""
    return _Rule(entry.id, f"{entry.id}:{kind}[{i}]", text.encode("utf-8"), versioned=kind == "pattern",
                 literal=literal, dotted=dotted)


#: Kept parses of a catalog's rules (:mod:`ecuscan.keptfile`): the folder, the file's first line, the
#: files kept, the largest read, and the fewest rules worth keeping (a small catalog parses in no time).
PARSE_DIR_NAME = "parsed-signatures"
PARSE_MAGIC = b"ecuscan-signatures 1\n"
PARSE_KEEP = 4
MAX_PARSE_BYTES = 8 << 20
MIN_KEPT_RULES = 64


def _rules_of(catalog: Catalog) -> list[tuple[CatalogEntry, str, int, str]]:
    """Every pattern, marker and hint of ``catalog``: (entry, kind, index, text), in catalog order."""
    return [(entry, kind, i, text) for entry in catalog
            for kind, texts in (("pattern", entry.patterns), ("marker", entry.markers), ("hint", entry.version_hints))
            for i, text in enumerate(texts)]


def _parse_key(rules: list[tuple[CatalogEntry, str, int, str]]) -> str | None:
    """Digest of what the parses depend on: every rule's id and text, and this module's source
    (which parses them); ``None`` when the source cannot be read (then nothing is kept)."""
    h = hashlib.sha256(PARSE_MAGIC)
    try:
        h.update(Path(__file__).read_bytes())
    except OSError:
        return None
    for entry, kind, i, text in rules:
        h.update(f"\0{entry.id}\0{kind}\0{i}\0{len(text)}\0{text}".encode())
    return h.hexdigest()


def _parsed_rules(rules: list[tuple[CatalogEntry, str, int, str]]) -> list[tuple[bytes, _Rule]]:
    """:func:`_parse_rule` of every rule, read back from the kept parse of the same rules when there is
    one (the parse is most of :func:`compile_signatures`, about 0.1 s of every scan's start-up)."""
    key = _parse_key(rules) if len(rules) >= MIN_KEPT_RULES else None
    if key is not None:
        payload = read_kept(PARSE_DIR_NAME, PARSE_MAGIC, key, MAX_PARSE_BYTES)
        kept = _rules_from(payload, rules) if payload is not None else None
        if kept is not None:
            return kept
    out = [_parse_rule(entry, kind, i, text) for entry, kind, i, text in rules]
    if key is not None:
        rows = [[a.hex(), r.literal.hex() if r.literal is not None else None, r.dotted] for a, r in out]
        write_kept(PARSE_DIR_NAME, PARSE_MAGIC, key, json.dumps(rows, separators=(",", ":")).encode(), PARSE_KEEP)
    return out


def _rules_from(payload: bytes, rules: list[tuple[CatalogEntry, str, int, str]]) -> list[tuple[bytes, _Rule]] | None:
    """The rules rebuilt from a kept parse, or ``None`` when it does not fit them (never raises)."""
    try:
        rows = json.loads(payload)
        if not isinstance(rows, list) or len(rows) != len(rules):
            return None
        out = []
        for (entry, kind, i, text), (anchor, literal, dotted) in zip(rules, rows, strict=True):
            if not isinstance(dotted, bool):
                return None
            out.append((bytes.fromhex(anchor),
                        _rule(entry, kind, i, text, bytes.fromhex(literal) if literal is not None else None, dotted)))
    except (ValueError, TypeError):
        return None
    return out


@lru_cache(maxsize=8)
def compile_signatures(catalog: Catalog) -> SignatureSet:
    """Compile every pattern, marker and hint of ``catalog`` (cached per catalog object)."""
    sig = SignatureSet(None, None)
    markers: list[tuple[bytes, _Rule]] = []
    rules = _rules_of(catalog)
    for (_entry, kind, _i, _text), (anchor, rule) in zip(rules, _parsed_rules(rules), strict=True):
        if kind == "pattern":
            if rule.dotted:
                sig.by_version_anchor.setdefault(anchor, []).append(rule)
            else:
                # a version in parts (``1_2_3``, ``3045001``) has no ``digit.digit`` place to be
                # found from: the pattern runs in the whole-buffer pass, like a marker
                markers.append((anchor, rule))
        elif kind == "marker":
            markers.append((anchor, rule))
        else:
            sig.hints.setdefault(rule.component, []).append(rule)
    cut = marker_anchors(sorted({a for a, _r in markers}))
    for anchor, rule in markers:
        sig.by_marker_anchor.setdefault(cut[anchor], []).append(rule)
    sig.version_anchor_rx = _anchor_regex(list(sig.by_version_anchor))
    sig.marker_anchor_rx = _anchor_regex(list(sig.by_marker_anchor))
    _prefix_rules(sig.by_version_anchor)
    _prefix_rules(sig.by_marker_anchor)
    return sig


@dataclass
class SignatureScan:
    """What one pass over the bytes found: pattern/marker hits and standalone strings for hints."""

    hits: list[Hit] = field(default_factory=list)
    standalone: dict[bytes, int] = field(default_factory=dict)  # string -> first offset


def _windows(data: Buffer, places: Iterator[int] | None = None) -> Iterator[tuple[int, int, int]]:
    """Coalesced windows ``(lo, hi, first_hit)`` around every ``digit.digit`` place (the starts of
    ``_DIGIT_DOT.finditer(data)``, or ``places`` when the caller found them already)."""
    n = len(data)
    lo = hi = first = -1
    for p in ((m.start() for m in _DIGIT_DOT.finditer(data)) if places is None else places):
        if lo >= 0 and p - WINDOW_BEFORE <= hi:
            hi = min(n, p + WINDOW_AFTER)
            continue
        if lo >= 0:
            yield lo, hi, first
        lo, hi, first = max(0, p - WINDOW_BEFORE), min(n, p + WINDOW_AFTER), p
    if lo >= 0:
        yield lo, hi, first


@lru_cache(maxsize=8)
def prefilter_pass(catalog: Catalog) -> PassSet:
    """The Hyperscan database of every prefilter :func:`scan` and provenance run: the ``digit.digit``
    places, the version-pattern anchors, the marker anchors and provenance's
    :data:`~ecuscan.provenance.PREFILTER_GROUPS` (one pass over the bytes finds them all)."""
    from ..provenance import PREFILTER_GROUPS, prefilter  # here: importing identify needs no cryptography

    sig = compile_signatures(catalog)
    return prefilter.compile_pass((
        (_DIGIT_PLACES, (_DIGIT_DOT.pattern,), False),
        (_VERSION_ANCHORS, tuple(sorted(sig.by_version_anchor)), True),
        (_MARKER_ANCHORS, tuple(sorted(sig.by_marker_anchor)), True),
        (PACKAGE_NOTE, (PACKAGE_NOTE_PREFIX,), True),
        (DID_TABLE, (TABLE_PREFIX,), True),
        *PREFILTER_GROUPS,
    ))


_DIGIT_PLACES, _VERSION_ANCHORS, _MARKER_ANCHORS = "digit-dot", "version-anchor", "marker-anchor"
#: The group of the pass that finds where an ELF package-metadata note's JSON can start (every
#: match of ``ecuscan.identify.packages._NOTE`` starts with this literal).
PACKAGE_NOTE, PACKAGE_NOTE_PREFIX = "package-note", b'{"type":"'
#: The group of the places an identification table (:data:`ecuscan.identity.TABLE`) can start at.
DID_TABLE = "did-table"


@lru_cache(maxsize=8)
def _marker_plan(catalog: Catalog) -> dict[bytes, tuple[tuple[_Rule, bytes | None], ...]]:
    """Marker anchor -> its rules, each with the literal it is (:attr:`_Rule.literal`) or ``None``."""
    return {anchor: tuple((r, r.literal) for r in rules)
            for anchor, rules in compile_signatures(catalog).by_marker_anchor.items()}


def scan(image: Image, catalog: Catalog, limits: Limits) -> SignatureScan:
    """Run every signature of ``catalog`` over ``image.data`` and return the raw hits.

    The prefilter regexes (``digit.digit``, the anchor alternations) are tried only where one
    Hyperscan pass (:func:`prefilter_pass`) found their literals; the matches, and so the hits,
    are exactly those of running each regex's ``finditer`` over the whole buffer.
    """
    from ..provenance import prefilter

    sig = compile_signatures(catalog)
    found = prefilter.run_shared(prefilter_pass(catalog), image.data)
    data: bytes | bytearray | mmap.mmap
    if isinstance(image.data, memoryview):
        # re and find() need bytes-like with find/rfind; a memoryview over a larger buffer is copied
        data = image.data.tobytes()
    else:
        data = image.data
    n = len(data)

    def finditer(rx: re.Pattern[bytes], group: str, pos: int = 0, endpos: int | None = None
                 ) -> Iterator[re.Match[bytes]]:
        end = n if endpos is None else endpos
        if found is None:  # more places than the pass keeps: the regex over the bytes, as it is
            return rx.finditer(data, pos, end)
        return prefilter.emulate_finditer(rx, data, found.starts[group], pos, end)

    def anchors(rx: re.Pattern[bytes], group: str, lo: int, hi: int) -> Iterator[re.Match[bytes]]:
        # every place an anchor starts, overlapping ones included (see _find_anchors)
        if found is None:
            return _find_anchors(rx, data, lo, hi)
        return prefilter.match_at_each(rx, data, found.starts[group], lo, hi)

    def digit_dots(pos: int = 0, endpos: int | None = None) -> Iterator[int]:
        end = n if endpos is None else endpos
        if found is None:
            return (m.start() for m in _DIGIT_DOT.finditer(data, pos, end))
        return prefilter.fixed_places(found.starts[_DIGIT_PLACES], 3, pos, end)
    out = SignatureScan()
    per_rule: dict[str, int] = {}
    seen: set[tuple[str, int]] = set()
    cap = limits.max_evidence_per_component

    def record(rule: _Rule, m: re.Match[bytes], method: EvidenceMethod) -> None:
        key = (rule.rule_id, m.start())
        if key in seen or per_rule.get(rule.rule_id, 0) >= cap:
            return
        if in_advisory(data, m.start(), m.end()):
            return  # a product named in a vulnerability description is no code of it
        seen.add(key)
        per_rule[rule.rule_id] = per_rule.get(rule.rule_id, 0) + 1
        version = match_version(m)
        out.hits.append(Hit(rule.component, version, Relation.CONTAINS,
                            make_evidence(image, method, decode(m.group()), limits=limits,
                                          offset=m.start(), detail=rule.rule_id)))

    vrx = sig.version_anchor_rx
    last_string_end = -1
    behind = Behind(data)  # a large map: the pages each loop below has passed are given back
    for lo, hi, _first in _windows(data, digit_dots()):
        behind.at(lo)
        if vrx is not None:
            for a in anchors(vrx, _VERSION_ANCHORS, lo, hi):
                s0, s1 = max(0, a.start() - WINDOW_BEFORE), min(n, a.end() + WINDOW_BEFORE)
                for rule in sig.by_version_anchor[a.group()]:
                    for m in rule.regex.finditer(data, s0, s1):
                        if m.start() <= a.start() < m.end():
                            record(rule, m, EvidenceMethod.VERSION_STRING)
        # NUL-delimited strings holding a digit.digit, for version_hints
        for p in digit_dots(lo, hi):
            if p < last_string_end:
                continue
            right = data.find(b"\x00", p, min(n, p + MAX_STANDALONE))
            if right < 0:
                continue
            last_string_end = right
            # the string starts after the last NUL or other non-printable byte: a literal placed
            # right after binary data (zlib's "1.3.1" after its CRC table) has no NUL before it
            w0 = max(0, p - MAX_STANDALONE)
            t = _PRINTABLE_TAIL.search(data, w0, p)
            start = t.start() if t is not None else p
            if (start == w0 and w0 > 0) or start == 0:
                continue
            s = bytes(data[start:right])
            if data[start - 1] != 0:
                # the boundary is a guess: leading punctuation may be the binary data's last byte
                s = s.lstrip(_PUNCT)
                start = right - len(s)
            if (s and len(out.standalone) < MAX_STANDALONE_STRINGS and s not in out.standalone
                    and _PRINTABLE.fullmatch(s)):
                out.standalone[s] = start

    mrx = sig.marker_anchor_rx
    if mrx is not None:
        plan = _marker_plan(catalog)
        behind.done()
        for a in anchors(mrx, _MARKER_ANCHORS, 0, n):
            p = a.start()
            behind.at(p)
            s0 = s1 = -1
            for rule, text in plan[a.group()]:
                if per_rule.get(rule.rule_id, 0) >= cap:
                    continue  # record() would keep nothing more of it
                if s0 < 0:
                    s0, s1 = max(0, p - WINDOW_BEFORE), min(n, a.end() + WINDOW_BEFORE)
                # a rule that is one literal can only match here if that literal occurs over the anchor
                # (common words cut from long markers: "file", "failed"); else nothing to look for
                if text is not None and data.find(text, max(s0, p - len(text) + 1), min(s1, p + len(text))) < 0:
                    continue
                for m in rule.regex.finditer(data, s0, s1):
                    if m.start() <= p < m.end():
                        record(rule, m, EvidenceMethod.VERSION_STRING if rule.versioned else
                               EvidenceMethod.MARKER_STRING)
    behind.done()
    return out


def hint_hits(image: Image, catalog: Catalog, component: ComponentId, found: SignatureScan,
              limits: Limits, claimed: frozenset[int] = frozenset(), why: str = "") -> list[Hit]:
    """Versions from bare version strings (``version_hints``) for a component proven present.

    Returns hits only when exactly one distinct version matches: a lone ``"1.34.9"`` in a
    library whose symbols prove c-ares is c-ares's version; two candidates are a guess.
    Strings at offsets in ``claimed`` (already the evidence of another component's version)
    are not candidates. ``why``, when given, says in the evidence what proved presence.
    """
    rules = compile_signatures(catalog).hints.get(component, [])
    if not rules:
        return []
    cands: dict[str, tuple[_Rule, bytes, int]] = {}
    for s, off in found.standalone.items():
        if off in claimed:
            continue
        for rule in rules:
            m = rule.regex.fullmatch(s)
            if m is not None and m.group("v") is not None:
                cands.setdefault(decode(m.group("v")), (rule, s, off))
                break
    if len(cands) != 1:
        return []
    version, (rule, s, off) = next(iter(cands.items()))
    return [Hit(component, version, Relation.CONTAINS,
                make_evidence(image, EvidenceMethod.VERSION_STRING, decode(s), limits=limits,
                              offset=off, detail=f"{rule.rule_id} ({why})" if why else rule.rule_id,
                              confidence=HINT_CONFIDENCE))]
