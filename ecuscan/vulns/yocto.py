"""Yocto/OpenEmbedded build evidence in: ``cve-check`` JSON and Yocto SPDX 2.2 / 3.0 CVE statements.

A Yocto build records, per recipe, which CVEs it patched, ignored or left unpatched. ecuscan
turns each into a VEX statement (rule ``yocto-patch``) scoped to the recipe's component, so a
CVE that the build backported a patch for is marked fixed with the patch named:

* ``cve-check`` JSON (``cve-check.bbclass``, ``"version": "1"``): ``package[]`` with ``name``
  (the recipe, PN), ``version`` (PV) and ``issue[]`` of ``{"id", "status": "Patched" |
  "Unpatched" | "Ignored", "detail", "description", "patch-file"}`` (``detail``, ``description``
  and ``patch-file`` since Yocto 4.3/5.0).
* SPDX 2.2 (``create-spdx-2.2.bbclass``): a recipe package's ``sourceInfo`` reads
  ``"CVEs fixed: CVE-… CVE-…"``.
* SPDX 3.0 JSON-LD (``create-spdx-3.0``): ``security_Vex{Fixed,NotAffected,Affected}VulnAssessmentRelationship``
  elements from a ``security_Vulnerability`` (CVE in ``externalIdentifier``) to the packages.

Patched => ``fixed`` (CycloneDX ``resolved``), Ignored => ``not_affected`` (with the reason),
Unpatched => ``affected`` (kept as triage). A recipe is mapped to its catalog component by
name and aliases; one the catalog does not know is reported, not guessed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from ..catalog import Catalog
from ..errors import FeedError
from ..limits import DEFAULT_LIMITS, Limits
from .ranges import looks_like_version
from .records import RULE_YOCTO, ProductRef, VexStatement, VexStatus

_CVE_RE = re.compile(r"\bCVE-\d{4}-\d{4,}\b")
# Yocto's CVE_STATUS reasons (meta/conf/cve-check-map.conf) -> OpenVEX justification
_JUSTIFICATION = {"cpe-incorrect": "component_not_present", "not-applicable-config": "vulnerable_code_not_present",
                  "not-applicable-platform": "vulnerable_code_not_present",
                  "fixed-version": "vulnerable_code_not_present"}
_STATUS = {"patched": VexStatus.FIXED, "ignored": VexStatus.NOT_AFFECTED, "unpatched": VexStatus.AFFECTED}


def _text(value: Any, limit: int = 300) -> str:
    return value.strip()[:limit] if isinstance(value, str) else ""


def _product(catalog: Catalog, recipe: str, version: str, unresolved: list[str]) -> ProductRef | None:
    entry = catalog.resolve(recipe)
    if entry is None:
        unresolved.append(recipe)
        return None
    return ProductRef(purl=entry.purl(version if looks_like_version(version) else None))


def is_cve_check(doc: Any) -> bool:
    """A cve-check JSON document (``{"version": "1", "package": [...]}``)."""
    return isinstance(doc, Mapping) and isinstance(doc.get("package"), list) and "version" in doc


def parse_cve_check(doc: Mapping[str, Any], source: str, catalog: Catalog,
                    limits: Limits = DEFAULT_LIMITS) -> tuple[list[VexStatement], list[str]]:
    """Statements of a cve-check JSON document, and the recipes the catalog does not know."""
    out: list[VexStatement] = []
    unresolved: list[str] = []
    packages = [p for p in doc.get("package", []) if isinstance(p, Mapping)][: limits.max_document_items]
    budget = limits.max_document_items
    for p in packages:
        recipe, version = _text(p.get("name"), 100), _text(p.get("version"), 100)
        issues = [i for i in p.get("issue", []) if isinstance(i, Mapping)] if isinstance(p.get("issue"), list) else []
        if not recipe or not issues:
            continue
        product = _product(catalog, recipe, version, unresolved)
        if product is None:
            continue
        for issue in issues:
            budget -= 1
            if budget < 0:
                raise FeedError(f"more than {limits.max_document_items} cve-check issues", source=source)
            cve, status_text = _text(issue.get("id"), 90), _text(issue.get("status"), 20).lower()
            status = _STATUS.get(status_text)
            if not _CVE_RE.fullmatch(cve) or status is None:
                continue
            detail = _text(issue.get("detail"), 60)
            patches = issue.get("patch-file")
            files = [patches] if isinstance(patches, str) else [f for f in patches if isinstance(f, str)] \
                if isinstance(patches, list) else []
            names = [f.replace("\\", "/").rsplit("/", 1)[-1][:120] for f in files[:10]]
            why = _text(issue.get("description"), 500)
            impact = (f"Yocto cve-check: {status_text.capitalize()} ({detail or 'no detail'}) in recipe "
                      f"{recipe} {version}" + (f"; patch {', '.join(names)}" if names else "")
                      + (f": {why}" if why else ""))
            out.append(VexStatement(
                vuln_id=cve, status=status, products=(product,),
                justification=_JUSTIFICATION.get(detail) if status is VexStatus.NOT_AFFECTED else None,
                impact=impact, source=source, rule=RULE_YOCTO,
                evidence=("patch " + ", ".join(names)) if names else (f"cve-check {detail}" if detail else "")))
    return out, sorted(set(unresolved))


def is_spdx(doc: Any) -> bool:
    """An SPDX 2.x JSON document or an SPDX 3.0 JSON-LD document."""
    return isinstance(doc, Mapping) and (str(doc.get("spdxVersion", "")).startswith("SPDX-2")
                                         or "spdx.org/rdf/3" in str(doc.get("@context", "")))


def parse_spdx(doc: Mapping[str, Any], source: str, catalog: Catalog,
               limits: Limits = DEFAULT_LIMITS) -> tuple[list[VexStatement], list[str]]:
    """Statements of a Yocto SPDX document (2.2 ``sourceInfo``, 3.0 VEX relationships)."""
    out: list[VexStatement] = []
    unresolved: list[str] = []
    if str(doc.get("spdxVersion", "")).startswith("SPDX-2"):
        pkgs = doc.get("packages")
        for p in (pkgs if isinstance(pkgs, list) else [])[: limits.max_document_items]:
            if not isinstance(p, Mapping):
                continue
            info = _text(p.get("sourceInfo"), 20000)
            if not info.startswith("CVEs fixed:"):
                continue
            name, version = _text(p.get("name"), 100), _text(p.get("versionInfo"), 100)
            product = _product(catalog, name, version, unresolved)
            if product is None:
                continue
            for cve in dict.fromkeys(_CVE_RE.findall(info)):
                out.append(VexStatement(vuln_id=cve, status=VexStatus.FIXED, products=(product,),
                                        impact=f"Yocto SPDX 2.2: recipe {name} {version} sourceInfo 'CVEs fixed'",
                                        source=source, rule=RULE_YOCTO, evidence="SPDX sourceInfo: CVEs fixed"))
        return out, sorted(set(unresolved))
    graph = doc.get("@graph")
    elements = [e for e in (graph if isinstance(graph, list) else [])[: limits.max_document_items]
                if isinstance(e, Mapping)]
    by_id = {e.get("spdxId") or e.get("@id"): e for e in elements}
    kinds = {"security_VexFixedVulnAssessmentRelationship": VexStatus.FIXED,
             "security_VexNotAffectedVulnAssessmentRelationship": VexStatus.NOT_AFFECTED,
             "security_VexAffectedVulnAssessmentRelationship": VexStatus.AFFECTED,
             "security_VexUnderInvestigationVulnAssessmentRelationship": VexStatus.UNDER_INVESTIGATION}
    for e in elements:
        status = kinds.get(str(e.get("type", "")))
        if status is None:
            continue
        vuln = by_id.get(e.get("from"))
        cve = ""
        if isinstance(vuln, Mapping):
            for x in vuln.get("externalIdentifier", []) if isinstance(vuln.get("externalIdentifier"), list) else []:
                if isinstance(x, Mapping) and _CVE_RE.fullmatch(_text(x.get("identifier"), 90)):
                    cve = _text(x.get("identifier"), 90)
            cve = cve or next(iter(_CVE_RE.findall(_text(vuln.get("name"), 90))), "")
        if not cve:
            continue
        to = e.get("to")
        targets: list[Any] = to[:100] if isinstance(to, list) else [to]
        products = []
        for t in targets:
            pkg = by_id.get(t)
            if isinstance(pkg, Mapping):
                ref = _product(catalog, _text(pkg.get("name"), 100), _text(pkg.get("software_packageVersion"), 100),
                               unresolved)
                if ref is not None:
                    products.append(ref)
        if not products:
            continue
        just = _text(e.get("security_justificationType"), 60) or None
        out.append(VexStatement(vuln_id=cve, status=status, products=tuple(products), justification=just,
                                impact=_text(e.get("security_impactStatement"), 500)
                                or f"Yocto SPDX 3.0: {e.get('type')}",
                                source=source, rule=RULE_YOCTO, evidence=_text(e.get("security_statusNotes"), 300)))
    return out, sorted(set(unresolved))
