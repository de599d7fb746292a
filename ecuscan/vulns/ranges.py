"""Version comparison and range evaluation for C/embedded release numbers, on top of univers.

univers supplies the range machinery (:class:`univers.version_range.VersionRange` with
:class:`univers.version_constraint.VersionConstraint` and the ``vers`` containment
algorithm). Its version classes do not fit embedded C projects: ``GenericVersion``
compares strings (``2.4.10 < 2.4.9``) and ``SemverVersion`` folds a fourth component into
build metadata (``0.9.33.10`` vs ``0.9.33.2``). So :class:`ReleaseVersion` is written here:
it plugs into univers as a ``Version`` subclass and orders versions the way release
numbers of these projects are ordered (numeric components, zero padding so ``3.4 ==
3.4.0``, pre-release words below the release, a letter suffix such as ``1.0.2h`` above
it). That ordering is our own; no library on the allowed list provides it.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from univers.version_constraint import VersionConstraint
from univers.version_range import VersionRange
from univers.versions import InvalidVersion, Version

from .records import AffectedRange

_PRE_WORDS = {"alpha": 0, "a": 0, "beta": 1, "b": 1, "pre": 2, "preview": 2, "rc": 3, "dev": -1,
              "snapshot": -1}
_POST_WORDS = {"post", "patch", "pl", "p", "errata"}
_TOKEN_RE = re.compile(r"(\d+)|([a-z]+)")
# rank of a component: pre-release < padding zero < post-release < number < letter suffix
_PRE, _ZERO, _POST, _NUM, _LETTER = 1, 2, 3, 4, 5
_VERSIONISH_RE = re.compile(r"^v?\d+(?:[._-]?[0-9a-z]+){0,12}$", re.IGNORECASE)
_HEX_RE = re.compile(r"^[0-9a-f]{7,40}$")
#: A version string longer than this is no release number (it bounds the work of comparing).
MAX_VERSION_CHARS = 200


@functools.total_ordering
@dataclass(frozen=True)
class _Key:
    parts: tuple[tuple[int, int, str], ...]

    def _padded(self, n: int) -> tuple[tuple[int, int, str], ...]:
        return self.parts + ((_ZERO, 0, ""),) * (n - len(self.parts))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, _Key):
            return NotImplemented
        n = max(len(self.parts), len(other.parts))
        return self._padded(n) == other._padded(n)

    def __lt__(self, other: _Key) -> bool:
        n = max(len(self.parts), len(other.parts))
        return self._padded(n) < other._padded(n)

    def __hash__(self) -> int:
        parts = list(self.parts)
        while parts and parts[-1][0] == _ZERO:
            parts.pop()
        return hash(tuple(parts))


def release_key(text: str) -> _Key:
    """The comparison key of a release number.

    >>> release_key("3.4") == release_key("3.4.0")
    True
    >>> release_key("2.4.9") < release_key("2.4.10") and release_key("0.9.33.2") < release_key("0.9.33.10")
    True
    >>> release_key("3.0.0-rc1") < release_key("3.0.0") < release_key("3.0.0.1")
    True
    >>> release_key("1.0.2") < release_key("1.0.2a") < release_key("1.0.2h") < release_key("1.0.3")
    True
    >>> release_key("1.0.1o") < release_key("1.0.1p") < release_key("1.0.1q")
    True
    """
    s = text.strip().lower()
    if s.startswith("v") and s[1:2].isdigit():
        s = s[1:]
    parts: list[tuple[int, int, str]] = []
    prev_end = -1
    prev_num = False
    for m in _TOKEN_RE.finditer(s):
        if m.group(1) is not None:
            # arbitrary length: a bound of 21 digits must stay 21 digits (no truncation)
            n = int(m.group(1))
            parts.append((_NUM, n, "") if n else (_ZERO, 0, ""))
            prev_num = True
        else:
            word = m.group(2)
            attached = prev_num and m.start() == prev_end
            followed_by_digit = m.end() < len(s) and s[m.end()].isdigit()
            if attached and len(word) == 1 and not followed_by_digit:
                # a letter release (OpenSSL 1.0.2a, 1.0.1p) even when the letter is also a
                # pre/post word: "a1" is an alpha, a bare "a" after the number is not
                parts.append((_LETTER, ord(word), word))
            elif word in _PRE_WORDS:
                parts.append((_PRE, _PRE_WORDS[word], ""))  # "a1" == "alpha1"
            elif word in _POST_WORDS:
                parts.append((_POST, 0, ""))  # "pl1" == "patch1"
            else:
                parts.append((_PRE, -2, word))
            prev_num = False
        prev_end = m.end()
    return _Key(tuple(parts))


class ReleaseVersion(Version):
    """A univers ``Version`` ordered by :func:`release_key` (see the module docstring)."""

    @classmethod
    def is_valid(cls, string: str) -> bool:
        """A version starts with a digit (after an optional ``v``) and has no spaces."""
        return bool(string) and looks_like_version(string)

    @classmethod
    def build_value(cls, string: str) -> _Key:
        """The comparable key."""
        return release_key(string)


class ReleaseVersionRange(VersionRange):
    """A univers range over :class:`ReleaseVersion`."""

    scheme = "ecuscan-release"  # type: ignore[assignment]
    version_class = ReleaseVersion  # type: ignore[assignment]


def looks_like_version(text: str) -> bool:
    """True for release numbers (``1.2.11``, ``2020.81``, ``v3.5.0-rc1``), False for free text,
    placeholders and commit hashes.

    >>> [looks_like_version(t) for t in ("1.35.0", "3.4", "n/a", "unspecified", "*", "-", "9f1e2d3c4b5a")]
    [True, True, False, False, False, False, False]
    """
    t = text.strip()
    if not t or len(t) > MAX_VERSION_CHARS or not _VERSIONISH_RE.match(t):
        return False
    # a long hex string with letters is a commit id, not a release
    return not (_HEX_RE.match(t.lower()) and any(c.isalpha() for c in t) and len(t) >= 7)


def parse_version(text: str) -> ReleaseVersion | None:
    """A :class:`ReleaseVersion`, or ``None`` when ``text`` is not a release number."""
    if not looks_like_version(text):
        return None
    try:
        return ReleaseVersion(text.strip())
    except InvalidVersion:
        return None


_FREE_RE = re.compile(r"^\s*(>=|<=|>|<|==|=)?\s*(v?\d[0-9A-Za-z._\-+~]*)\s*$")


def parse_free_text(text: str) -> list[tuple[str, str]] | None:
    """Comparator list from free text such as ``">= 4.0.0, <= 4.1.0"`` (a CNA quirk).

    >>> parse_free_text(">= 4.0.0, <= 4.1.0")
    [('>=', '4.0.0'), ('<=', '4.1.0')]
    >>> parse_free_text("Fixed in OpenSSL 3.0.7") is None
    True
    """
    if len(text) > 200:
        return None
    pieces = [p for p in re.split(r"\s*(?:,|&&|\band\b)\s*", text.strip()) if p]
    if not pieces or len(pieces) > 4:
        return None
    out: list[tuple[str, str]] = []
    for p in pieces:
        m = _FREE_RE.match(p)
        if not m or not looks_like_version(m.group(2)):
            return None
        op = m.group(1) or "="
        out.append(("=" if op == "==" else op, m.group(2)))
    return out


def bounds_problem(lower: str | None, upper: str | None, *, lower_inclusive: bool = True,
                   upper_inclusive: bool = False, exact: str | None = None) -> str | None:
    """Why an interval as written cannot be evaluated, or ``None`` when it can.

    A bound that is no release number, or an interval whose lower bound lies above its upper
    one (or equals it without both ends included), describes no versions: evaluated anyway,
    univers' ``vers`` algorithm reads ``>=3.0, <2.0`` as "below 2.0 or from 3.0 on".

    >>> bounds_problem("3.0", "2.0")
    "inverted range: lower bound '3.0' is above upper bound '2.0'"
    >>> bounds_problem("2.0", "2.0"), bounds_problem("1.0", "2.0"), bounds_problem(None, "git-1a2b")
    ("empty range: '>=2.0, <2.0'", None, "unusable upper bound 'git-1a2b'")
    """
    for label, b in (("exact version", exact), ("lower bound", lower), ("upper bound", upper)):
        if b is not None and not looks_like_version(b):
            return f"unusable {label} {b[:80]!r}"
    if exact is None and lower is not None and upper is not None:
        lo, hi = release_key(lower), release_key(upper)
        if hi < lo:
            return f"inverted range: lower bound {lower!r} is above upper bound {upper!r}"
        if lo == hi and not (lower_inclusive and upper_inclusive):
            return (f"empty range: '{'>=' if lower_inclusive else '>'}{lower}, "
                    f"{'<=' if upper_inclusive else '<'}{upper}'")
    return None


def range_problem(rng: AffectedRange) -> str | None:
    """:func:`bounds_problem` of a parsed range (``None`` for an unknown range: nothing to check)."""
    if rng.unknown:
        return None
    return bounds_problem(rng.lower, rng.upper, lower_inclusive=rng.lower_inclusive,
                          upper_inclusive=rng.upper_inclusive, exact=rng.exact)


def to_version_range(rng: AffectedRange) -> ReleaseVersionRange | None:
    """The univers range of an :class:`AffectedRange`; ``None`` when it has no usable bounds
    (unknown, unparseable, inverted or empty: see :func:`range_problem`)."""
    if rng.unknown or rng.problem or range_problem(rng) is not None:
        return None
    constraints: list[VersionConstraint] = []
    try:
        if rng.exact is not None:
            v = parse_version(rng.exact)
            if v is None:
                return None
            constraints.append(VersionConstraint(comparator="=", version=v))
        else:
            if rng.lower is not None and rng.upper is not None and release_key(rng.lower) == release_key(rng.upper):
                # [x, x] is the one version x (range_problem refused the other empty forms); as
                # ">=x|<=x" the vers algorithm would read "from x on or up to x": every version
                v = parse_version(rng.lower)
                if v is None:
                    return None
                return ReleaseVersionRange(constraints=(VersionConstraint(comparator="=", version=v),))
            if rng.lower is not None:
                lo = parse_version(rng.lower)
                if lo is None:
                    return None
                constraints.append(VersionConstraint(comparator=">=" if rng.lower_inclusive else ">", version=lo))
            if rng.upper is not None:
                hi = parse_version(rng.upper)
                if hi is None:
                    return None
                constraints.append(VersionConstraint(comparator="<=" if rng.upper_inclusive else "<", version=hi))
            if not constraints:
                constraints.append(VersionConstraint(comparator="*", version=ReleaseVersion("0")))
    except (InvalidVersion, ValueError, TypeError):
        return None
    return ReleaseVersionRange(constraints=tuple(constraints))


def contains(rng: AffectedRange, version: str) -> bool | None:
    """Whether ``version`` lies in the range; ``None`` when either side cannot be compared.

    >>> r = AffectedRange(origin="nvd", upper="1.35.0", upper_inclusive=True)
    >>> contains(r, "1.35.0"), contains(r, "1.37.0"), contains(r, "git-abc")
    (True, False, None)
    """
    vr = to_version_range(rng)
    v = parse_version(version)
    if vr is None or v is None:
        return None
    try:
        return bool(v in vr)
    except (TypeError, ValueError):
        return None
