"""The records of the vulnerability stage: normalized vulnerabilities, ranges, findings, reports.

Every feed format (CVE JSON 5, NVD API 2.0, OSV) is turned into one :class:`Vulnerability`
holding :class:`AffectedRange` entries; the matcher turns (component, vulnerability) pairs
into :class:`Finding` records that explain themselves (which record, which range, which
identity key). All records are frozen dataclasses with ``to_dict`` for ``--json``.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from ..limits import DEFAULT_LIMITS
from ..model import preferred_cwe_name

#: The rules that decide a finding: the upstream record's version range, a distribution's
#: advisory for the installed package, a Yocto cve-check/SPDX patch statement, a VEX statement.
RULE_UPSTREAM = "upstream-range"
RULE_DISTRO = "distro-advisory"
RULE_YOCTO = "yocto-patch"
RULE_VEX = "vex"
RULES = (RULE_UPSTREAM, RULE_DISTRO, RULE_YOCTO, RULE_VEX)
FIXED_BY_DISTRIBUTION = "fixed by distribution"


class FindingStatus(enum.StrEnum):
    """The matcher's verdict for one component and one vulnerability."""

    AFFECTED = "affected"  # the version lies inside a range the record marks affected
    UNKNOWN_RANGE = "unknown-range"  # the record names the component but gives no usable range
    NOT_AFFECTED = "not-affected"  # the version lies outside every affected range
    FIXED = "fixed"  # a VEX statement says the issue is fixed in this product


class VexStatus(enum.StrEnum):
    """Triage status of a VEX statement (OpenVEX names; CycloneDX states are mapped onto them)."""

    NOT_AFFECTED = "not_affected"
    AFFECTED = "affected"
    FIXED = "fixed"
    UNDER_INVESTIGATION = "under_investigation"


class Severity(enum.StrEnum):
    """Qualitative CVSS severity, ordered by :meth:`rank`."""

    NONE = "none"
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"

    def rank(self) -> int:
        """0 (none) .. 4 (critical).

        >>> Severity.HIGH.rank() > Severity.MEDIUM.rank()
        True
        """
        return list(Severity).index(self)

    @classmethod
    def from_score(cls, score: float) -> Severity:
        """CVSS v3/v4 qualitative rating of a base score.

        >>> Severity.from_score(9.8).value, Severity.from_score(5.3).value
        ('critical', 'medium')
        """
        if score >= 9.0:
            return cls.CRITICAL
        if score >= 7.0:
            return cls.HIGH
        if score >= 4.0:
            return cls.MEDIUM
        if score > 0.0:
            return cls.LOW
        return cls.NONE


@dataclass(frozen=True)
class Cvss:
    """One CVSS assessment: version (``3.1``, ``4.0`` ...), base score, vector, severity, who said it."""

    version: str
    score: float | None
    vector: str
    severity: Severity | None
    source: str = ""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"version": self.version, "score": self.score, "vector": self.vector,
                "severity": self.severity.value if self.severity else None, "source": self.source}


@dataclass(frozen=True)
class AffectedRange:
    """One version statement of a record about one product.

    Identity: ``vendor``/``product`` as the record writes them, ``cpe`` (``vendor:product``,
    lower case) and ``purl`` when given, ``package`` (a package or repository name).
    Versions: an interval (``lower`` / ``upper`` with inclusivity) or an ``exact`` version;
    ``unknown`` is set (with ``note``) when the record gives no usable version information
    ("n/a", NVD ``-``, commit hashes, unparseable text). ``status`` is ``affected`` or
    ``unaffected``; ``default_status`` is the block's CVE 5 ``defaultStatus``.
    ``origin`` names where it came from (``cve5:cna``, ``cve5:adp``, ``nvd``, ``osv``),
    ``text`` is the range as written (for explanations).
    """

    origin: str
    vendor: str | None = None
    product: str | None = None
    cpe: str | None = None
    purl: str | None = None
    package: str | None = None
    lower: str | None = None
    lower_inclusive: bool = True
    upper: str | None = None
    upper_inclusive: bool = False
    exact: str | None = None
    status: str = "affected"
    default_status: str | None = None
    unknown: bool = False
    note: str = ""
    text: str = ""
    #: A feed problem: the statement as written cannot be evaluated (inverted, unparseable,
    #: a JSON number where a version string belongs). Such a range is always ``unknown``.
    problem: str = ""

    def describe(self) -> str:
        """The range in a compact human form.

        >>> AffectedRange(origin="nvd", lower="7.69.0", upper="8.4.0").describe()
        '>=7.69.0, <8.4.0'
        >>> AffectedRange(origin="nvd", exact="1.0.40").describe()
        '=1.0.40'
        """
        if self.problem:
            return f"invalid ({self.problem})"
        if self.unknown:
            return f"unknown ({self.note})" if self.note else "unknown"
        if self.exact is not None:
            return f"={self.exact}"
        parts = []
        if self.lower is not None:
            parts.append((">=" if self.lower_inclusive else ">") + self.lower)
        if self.upper is not None:
            parts.append(("<=" if self.upper_inclusive else "<") + self.upper)
        return ", ".join(parts) if parts else "all versions"

    def identity(self) -> str:
        """The product identity the range names, for explanations."""
        bits = [b for b in (f"cpe {self.cpe}" if self.cpe else None,
                            f"purl {self.purl}" if self.purl else None,
                            f"{self.vendor}/{self.product}" if self.product else None,
                            f"package {self.package}" if self.package else None) if b]
        return "; ".join(bits) or "(none)"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"origin": self.origin, "vendor": self.vendor, "product": self.product,
                "cpe": self.cpe, "purl": self.purl, "package": self.package,
                "range": self.describe(), "status": self.status,
                "default_status": self.default_status, "text": self.text,
                **({"problem": self.problem} if self.problem else {})}


@dataclass(frozen=True)
class Vulnerability:
    """A vulnerability normalized from one or more feed records (CVE 5 + NVD of one CVE merge).

    ``sources`` lists the records it was built from (``cve5:CVE-2023-38545``, ``nvd:...``).
    ``description`` is kept (bounded) so that an "n/a" record can still name its product.
    """

    id: str
    aliases: tuple[str, ...] = ()
    summary: str = ""
    published: str | None = None
    modified: str | None = None
    cvss: tuple[Cvss, ...] = ()
    cwes: tuple[str, ...] = ()
    kev: bool = False
    affected: tuple[AffectedRange, ...] = ()
    sources: tuple[str, ...] = ()
    description: str = ""
    withdrawn: bool = False
    #: OSV ``upstream``: the upstream vulnerabilities a distribution record is about (OSV 1.6+)
    upstream: tuple[str, ...] = ()
    #: reference URLs of the record (advisories, patches, reports) in the record's order, deduplicated
    #: and bounded; plain text for a reader, never fetched or linked
    references: tuple[str, ...] = ()
    #: the CWE names the record itself gives, as ``(id, name)`` pairs (CVE 5 problem types read
    #: "CWE-79 Improper Neutralization ..."); NVD and OSV records give ids only, so this stays empty
    #: for them unless another record of the store named the weakness (never invented)
    cwe_names: tuple[tuple[str, str], ...] = ()

    def cwe_name(self, cwe: str) -> str | None:
        """The name a record gave for ``cwe``, or ``None``.

        >>> v = Vulnerability(id="X", cwes=("CWE-787",), cwe_names=(("CWE-787", "Out-of-bounds Write"),))
        >>> v.cwe_name("CWE-787")
        'Out-of-bounds Write'
        """
        return next((name for c, name in self.cwe_names if c == cwe), None)

    def weaknesses(self) -> list[dict[str, str | None]]:
        """Each CWE id of the record with its name when some record gave one (``None`` otherwise).

        >>> v = Vulnerability(id="X", cwes=("CWE-20", "CWE-79"), cwe_names=(("CWE-20", "Improper Input Validation"),))
        >>> v.weaknesses()
        [{'id': 'CWE-20', 'name': 'Improper Input Validation'}, {'id': 'CWE-79', 'name': None}]
        """
        return [{"id": c, "name": self.cwe_name(c)} for c in self.cwes]

    def problems(self) -> tuple[str, ...]:
        """Feed problems of this record: its version statements that cannot be evaluated.

        >>> v = Vulnerability(id="X", affected=(AffectedRange(origin="nvd", unknown=True, problem="inverted"),))
        >>> v.problems()
        ('nvd: inverted',)
        """
        return tuple(dict.fromkeys(f"{r.origin}: {r.problem}" for r in self.affected if r.problem))

    def best_cvss(self) -> Cvss | None:
        """The assessment used for severity: highest-scored v3.x/v4.0, else any scored one."""
        modern = [c for c in self.cvss if c.score is not None and c.version.startswith(("3", "4"))]
        pool = modern or [c for c in self.cvss if c.score is not None]
        return max(pool, key=lambda c: c.score or 0.0) if pool else None

    def severity(self) -> Severity | None:
        """Severity of :meth:`best_cvss`, or ``None`` when no score is known."""
        best = self.best_cvss()
        if best is None or best.score is None:
            return None
        return best.severity or Severity.from_score(best.score)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        sev = self.severity()
        return {"id": self.id, "aliases": list(self.aliases), "summary": self.summary,
                "published": self.published, "modified": self.modified,
                "severity": sev.value if sev else None,
                "cvss": [c.to_dict() for c in self.cvss], "cwes": list(self.cwes), "kev": self.kev,
                "affected": [a.to_dict() for a in self.affected], "sources": list(self.sources),
                "weaknesses": self.weaknesses(), "references": list(self.references)}


def merge_references(*groups: Iterable[str]) -> tuple[str, ...]:
    """The references of several records of one vulnerability, each once, in order, bounded.

    >>> merge_references(("https://a/1", "https://a/2"), ("https://a/2", "https://b/1"))
    ('https://a/1', 'https://a/2', 'https://b/1')
    """
    out: dict[str, None] = {}
    for group in groups:
        for url in group:
            if len(out) >= DEFAULT_LIMITS.max_vuln_references:
                return tuple(out)
            out.setdefault(url)
    return tuple(out)


def name_weaknesses(vulns: Iterable[Vulnerability], known: Mapping[str, str] | None = None) -> list[Vulnerability]:
    """Give each vulnerability the names of its CWEs that another record named.

    NVD and OSV records carry CWE ids only; a CVE 5 record of any vulnerability (or a name kept
    in the store, ``known``) may name the same weakness. A record's own name is kept; a CWE no
    record named stays without a name (nothing is invented).

    >>> nvd = Vulnerability(id="CVE-2", cwes=("CWE-787",))
    >>> cve5 = Vulnerability(id="CVE-1", cwes=("CWE-787",), cwe_names=(("CWE-787", "Out-of-bounds Write"),))
    >>> [v.weaknesses() for v in name_weaknesses([cve5, nvd])][1]
    [{'id': 'CWE-787', 'name': 'Out-of-bounds Write'}]
    """
    vulns = list(vulns)
    pool: dict[str, str] = {}
    for cwe, name in (*(known or {}).items(), *(p for v in vulns for p in v.cwe_names)):
        best = preferred_cwe_name(pool.get(cwe), name)
        if best:
            pool[cwe] = best
    out = []
    for v in vulns:
        own = dict(v.cwe_names)
        names = tuple((c, own.get(c) or pool[c]) for c in v.cwes if own.get(c) or c in pool)
        out.append(replace(v, cwe_names=names) if names != v.cwe_names else v)
    return out


@dataclass(frozen=True)
class ProductRef:
    """What a VEX statement (or finding) is about: a component purl, a firmware, an ECU."""

    purl: str | None = None
    firmware_sha256: str | None = None
    firmware_path: str | None = None
    ecu: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (only the fields that are set)."""
        return {k: v for k, v in (("purl", self.purl), ("firmware_sha256", self.firmware_sha256),
                                  ("firmware_path", self.firmware_path), ("ecu", self.ecu)) if v}


@dataclass(frozen=True)
class VexStatement:
    """One triage statement: vulnerability, scope, status, justification."""

    vuln_id: str
    status: VexStatus
    products: tuple[ProductRef, ...] = ()
    justification: str | None = None
    impact: str | None = None
    action: str | None = None
    source: str = ""  # file it came from
    #: the rule a statement stands for: ``vex`` (a triage document) or ``yocto-patch`` (a build's cve-check)
    rule: str = "vex"
    #: what the statement rests on (Yocto: the patch file names)
    evidence: str = ""

    def suppresses(self) -> bool:
        """True when the statement takes the finding out of the exposure (not_affected, fixed)."""
        return self.status in (VexStatus.NOT_AFFECTED, VexStatus.FIXED)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"vuln_id": self.vuln_id, "status": self.status.value,
                "products": [p.to_dict() for p in self.products], "justification": self.justification,
                "impact": self.impact, "action": self.action, "source": self.source, "rule": self.rule,
                **({"evidence": self.evidence} if self.evidence else {})}


@dataclass(frozen=True)
class MatchedBy:
    """Why a finding exists: the record, the range (as text), the identity key used."""

    record: str  # "nvd:CVE-2022-28391"
    range: str  # ">=7.69.0, <8.4.0" / "unknown (n/a)"
    key: str  # "cpe busybox:busybox" / "purl pkg:generic/curl" / "alias uClibC-ng"
    origin: str = ""  # cve5:cna / cve5:adp / nvd / osv

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"record": self.record, "range": self.range, "key": self.key, "origin": self.origin}


@dataclass(frozen=True)
class Finding:
    """One component × one vulnerability, with the verdict and its explanation.

    ``suppressed_by`` holds the VEX statement that takes it out of the exposure (the
    finding stays in the output, marked suppressed); ``triage`` any other applicable
    statement (affected, under_investigation).
    """

    vuln_id: str
    component_id: str
    component_purl: str
    component_version: str | None
    status: FindingStatus
    matched_by: tuple[MatchedBy, ...]
    evidence: str = ""
    firmware_sha256: str | None = None
    firmware_path: str | None = None
    cvss: Cvss | None = None
    severity: Severity | None = None
    cwes: tuple[str, ...] = ()
    kev: bool = False
    summary: str = ""
    suppressed_by: VexStatement | None = None
    triage: VexStatement | None = None
    #: which rule decided the verdict: one of :data:`RULES`
    rule: str = "upstream-range"
    #: the record, advisory or statement that decided it (``nvd:CVE-…``, ``DEBIAN-CVE-…``, a VEX file)
    decided_by: str = ""
    #: why the verdict is not-affected/fixed when a rule says so ("fixed by distribution" ...)
    justification: str | None = None
    #: the decision in one sentence, for terminal/JSON/SARIF readers
    decision: str = ""
    #: the installed package the component came from (package URL), when a package database named it
    package_purl: str | None = None
    #: the CWE names records gave for :attr:`cwes` (``(id, name)`` pairs; see :attr:`Vulnerability.cwe_names`)
    cwe_names: tuple[tuple[str, str], ...] = ()
    #: the record's reference URLs (plain text)
    references: tuple[str, ...] = ()

    @property
    def exposed(self) -> bool:
        """Counts against the release: affected or unknown range, and not suppressed by VEX."""
        return self.suppressed_by is None and self.status in (FindingStatus.AFFECTED,
                                                               FindingStatus.UNKNOWN_RANGE)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "vuln_id": self.vuln_id, "status": self.status.value, "exposed": self.exposed,
            "component": {"id": self.component_id, "purl": self.component_purl,
                          "version": self.component_version},
            "firmware": {"sha256": self.firmware_sha256, "path": self.firmware_path},
            "matched_by": [m.to_dict() for m in self.matched_by], "evidence": self.evidence,
            "cvss": self.cvss.to_dict() if self.cvss else None,
            "severity": self.severity.value if self.severity else None,
            "cwes": list(self.cwes), "kev": self.kev, "summary": self.summary,
            "suppressed_by": self.suppressed_by.to_dict() if self.suppressed_by else None,
            "triage": self.triage.to_dict() if self.triage else None,
            "rule": self.rule, "decided_by": self.decided_by, "justification": self.justification,
            "decision": self.decision, "package": self.package_purl,
            "weaknesses": [{"id": c, "name": dict(self.cwe_names).get(c)} for c in self.cwes],
            "references": list(self.references),
        }


@dataclass(frozen=True)
class ImportIssue:
    """A record or file that could not be imported: the file, the record (when known), why."""

    file: str
    record: str | None
    message: str

    def __str__(self) -> str:
        return f"{self.file}{f' [{self.record}]' if self.record else ''}: {self.message}"


@dataclass(frozen=True)
class ImportReport:
    """Outcome of an import: counts per store outcome, plus the records that failed."""

    added: int = 0
    updated: int = 0
    unchanged: int = 0
    older: int = 0
    failed: int = 0
    files: int = 0
    errors: tuple[ImportIssue, ...] = field(default=())
    #: feed problems of records that were stored: version statements that cannot be evaluated
    #: (inverted, unparseable, numbers); matching reports them as unknown ranges, never affected
    problems: tuple[ImportIssue, ...] = field(default=())
    #: records read that are distribution advisories (OSV Debian:13, Ubuntu:…, Alpine:v…, Red Hat …)
    distribution_advisories: int = 0

    @property
    def changed(self) -> int:
        """Records written (added or updated)."""
        return self.added + self.updated

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"added": self.added, "updated": self.updated, "unchanged": self.unchanged,
                "older": self.older, "failed": self.failed, "files": self.files,
                "errors": [{"file": e.file, "record": e.record, "message": e.message}
                           for e in self.errors],
                "problems": [{"file": e.file, "record": e.record, "message": e.message}
                             for e in self.problems],
                "distribution_advisories": self.distribution_advisories}
