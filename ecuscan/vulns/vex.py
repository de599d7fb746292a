"""VEX triage in and out: CycloneDX VEX (1.4-1.6 ``vulnerabilities[].analysis``) and OpenVEX.

Statements are scoped to a component (purl, with or without version), a firmware (its
sha256 or path) or an ECU id. CycloneDX ``affects[].ref`` points at a ``bom-ref`` of the
document's components (purl, SHA-256 hash, or an ``ecuscan:ecu`` property) or is a purl.
OpenVEX products are ``@id`` purls, ``sha256:<hex>`` hashes (also via ``hashes``) or
``ecu:<id>``; firmware paths are given as ``file:<path>``.

:func:`apply_vex` attaches statements to findings: ``not_affected`` / ``fixed`` suppress
(the finding stays, marked with the statement), ``affected`` / ``under_investigation``
are recorded as triage. Reading is by hand over the parsed JSON because both formats are
small and cyclonedx-python-lib's deserializer rejects partial VEX documents; the output of
:func:`to_cyclonedx` is validated against the CycloneDX 1.6 schema in the tests.
"""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from packageurl import PackageURL

from ..catalog import Catalog, load_catalog
from ..errors import FeedError
from ..limits import DEFAULT_LIMITS, Limits
from .feeds import parse_json, read_regular_file
from .records import Finding, FindingStatus, ProductRef, VexStatement, VexStatus
from .yocto import is_cve_check, is_spdx, parse_cve_check, parse_spdx

_CDX_STATE = {"not_affected": VexStatus.NOT_AFFECTED, "false_positive": VexStatus.NOT_AFFECTED,
              "resolved": VexStatus.FIXED, "resolved_with_pedigree": VexStatus.FIXED,
              "exploitable": VexStatus.AFFECTED, "in_triage": VexStatus.UNDER_INVESTIGATION}
_TO_CDX_STATE = {VexStatus.NOT_AFFECTED: "not_affected", VexStatus.FIXED: "resolved",
                 VexStatus.AFFECTED: "exploitable", VexStatus.UNDER_INVESTIGATION: "in_triage"}
# OpenVEX justification -> CycloneDX justification (closest meaning)
_TO_CDX_JUSTIFICATION = {"component_not_present": "code_not_present",
                         "vulnerable_code_not_present": "code_not_present",
                         "vulnerable_code_not_in_execute_path": "code_not_reachable",
                         "vulnerable_code_cannot_be_controlled_by_adversary": "requires_environment",
                         "inline_mitigations_already_exist": "protected_by_mitigating_control"}
_CDX_JUSTIFICATIONS = {"code_not_present", "code_not_reachable", "requires_configuration", "requires_dependency",
                       "requires_environment", "protected_by_compiler", "protected_at_runtime",
                       "protected_at_perimeter", "protected_by_mitigating_control"}


def _ref_from_text(text: str) -> ProductRef | None:
    t = text.strip()
    if t.startswith("pkg:"):
        return ProductRef(purl=t)
    if t.startswith("sha256:"):
        return ProductRef(firmware_sha256=t[7:].lower())
    if t.startswith("ecu:"):
        return ProductRef(ecu=t[4:])
    if t.startswith("file:"):
        return ProductRef(firmware_path=t[5:])
    return None


def _seq(value: Any) -> list[Any]:
    """``value`` if it is a JSON array, else empty (a hostile document may put anything anywhere)."""
    return value if isinstance(value, list) else []


def _map(value: Any) -> Mapping[str, Any]:
    """``value`` if it is a JSON object, else empty."""
    return value if isinstance(value, Mapping) else {}


def _cdx_component_ref(comp: Mapping[str, Any]) -> ProductRef | None:
    for prop in _seq(comp.get("properties")):
        if isinstance(prop, Mapping) and prop.get("name") == "ecuscan:ecu" and isinstance(prop.get("value"), str):
            return ProductRef(ecu=prop["value"])
    purl = comp.get("purl")
    if isinstance(purl, str) and purl.startswith("pkg:"):
        return ProductRef(purl=purl)
    for h in _seq(comp.get("hashes")):
        if isinstance(h, Mapping) and h.get("alg") == "SHA-256" and isinstance(h.get("content"), str):
            return ProductRef(firmware_sha256=h["content"].lower())
    return None


def _walk_components(comps: Any, out: dict[str, ProductRef], budget: list[int]) -> None:
    stack = [c for c in _seq(comps) if isinstance(c, Mapping)]
    while stack:
        budget[0] -= 1
        if budget[0] < 0:
            raise FeedError("too many components")
        c = stack.pop()
        ref = _cdx_component_ref(c)
        if ref and isinstance(c.get("bom-ref"), str):
            out[c["bom-ref"]] = ref
        stack.extend(x for x in _seq(c.get("components")) if isinstance(x, Mapping))


def parse_cyclonedx_vex(doc: Mapping[str, Any], source: str, limits: Limits = DEFAULT_LIMITS) -> list[VexStatement]:
    """Statements of a CycloneDX document's ``vulnerabilities`` with an ``analysis``."""
    refs: dict[str, ProductRef] = {}
    budget = [limits.max_document_items]
    _walk_components(doc.get("components"), refs, budget)
    meta_comp = _map(doc.get("metadata")).get("component")
    if isinstance(meta_comp, Mapping):
        _walk_components([meta_comp], refs, budget)
    out: list[VexStatement] = []
    vulns = doc.get("vulnerabilities")
    if not isinstance(vulns, list):
        raise FeedError("CycloneDX document has no vulnerabilities list", source=source)
    for i, v in enumerate(vulns[: limits.max_document_items]):
        if not isinstance(v, Mapping) or not isinstance(v.get("id"), str):
            raise FeedError(f"vulnerabilities[{i}] has no id", source=source)
        raw_analysis = v.get("analysis")
        analysis: Mapping[str, Any] = raw_analysis if isinstance(raw_analysis, Mapping) else {}
        state = _CDX_STATE.get(str(analysis.get("state", "")))
        if state is None:
            continue
        products = []
        for a in _seq(v.get("affects")):
            ref = a.get("ref") if isinstance(a, Mapping) else None
            if isinstance(ref, str):
                p = refs.get(ref) or _ref_from_text(ref)
                if p is None:
                    raise FeedError(f"vulnerabilities[{i}].affects: unknown ref {ref[:80]!r}", source=source)
                products.append(p)
        response = analysis.get("response")
        out.append(VexStatement(
            vuln_id=v["id"][:90], status=state, products=tuple(products),
            justification=str(analysis["justification"])[:80] if analysis.get("justification") else None,
            impact=str(analysis["detail"])[:1000] if analysis.get("detail") else None,
            action=", ".join(str(r) for r in response[:10]) if isinstance(response, list) and response else None,
            source=source))
    return out


def parse_openvex(doc: Mapping[str, Any], source: str, limits: Limits = DEFAULT_LIMITS) -> list[VexStatement]:
    """Statements of an OpenVEX document (v0.2.0; the 0.0.x ``vulnerability`` string form too)."""
    stmts = doc.get("statements")
    if not isinstance(stmts, list):
        raise FeedError("OpenVEX document has no statements list", source=source)
    out: list[VexStatement] = []
    for i, s in enumerate(stmts[: limits.max_document_items]):
        if not isinstance(s, Mapping):
            raise FeedError(f"statements[{i}] is not an object", source=source)
        vuln = s.get("vulnerability")
        vid = vuln.get("name") if isinstance(vuln, Mapping) else vuln
        if not isinstance(vid, str) or not vid:
            raise FeedError(f"statements[{i}] has no vulnerability name", source=source)
        try:
            status = VexStatus(str(s.get("status")))
        except ValueError as exc:
            raise FeedError(f"statements[{i}]: unknown status {s.get('status')!r}", source=source) from exc
        products: list[ProductRef] = []
        for p in _seq(s.get("products")):
            ids = [p] if isinstance(p, str) else [p.get("@id")] if isinstance(p, Mapping) else []
            if isinstance(p, Mapping):
                ids.extend(f"sha256:{h}" for k, h in _map(p.get("hashes")).items() if k == "sha-256")
                ids.extend(x for x in _map(p.get("identifiers")).values())
            refs = [r for r in (_ref_from_text(x) for x in ids if isinstance(x, str)) if r]
            if not refs:
                raise FeedError(f"statements[{i}]: product {str(p)[:80]!r} is no purl, hash or ecu", source=source)
            products.extend(refs)
        if status is VexStatus.NOT_AFFECTED and not (s.get("justification") or s.get("impact_statement")):
            raise FeedError(f"statements[{i}]: not_affected needs a justification or impact_statement",
                            source=source)
        out.append(VexStatement(
            vuln_id=vid[:90], status=status, products=tuple(products),
            justification=str(s["justification"])[:80] if s.get("justification") else None,
            impact=str(s["impact_statement"])[:1000] if s.get("impact_statement") else None,
            action=str(s["action_statement"])[:1000] if s.get("action_statement") else None, source=source))
    return out


def load_vex(path: str | Path, limits: Limits = DEFAULT_LIMITS, catalog: Catalog | None = None,
             unresolved: list[str] | None = None) -> list[VexStatement]:
    """Read a CycloneDX VEX, OpenVEX, Yocto cve-check or Yocto SPDX 2.2/3.0 JSON file (format
    detected from the content). Yocto recipes are mapped to components through ``catalog``
    (the built-in one by default); recipes it does not know are appended to ``unresolved``."""
    p = Path(path)
    data = read_regular_file(p, limits.max_document_bytes)
    doc = parse_json(data, str(p), limits)
    if is_cve_check(doc) or is_spdx(doc):
        if catalog is None:
            catalog = load_catalog()
        assert isinstance(doc, Mapping)
        stmts, missing = (parse_cve_check if is_cve_check(doc) else parse_spdx)(doc, str(p), catalog, limits)
        if unresolved is not None:
            unresolved.extend(missing)
        return stmts
    if not isinstance(doc, Mapping):
        raise FeedError("VEX document is not a JSON object", source=str(p))
    if doc.get("bomFormat") == "CycloneDX":
        return parse_cyclonedx_vex(doc, str(p), limits)
    if "statements" in doc and "openvex" in str(doc.get("@context", "")):
        return parse_openvex(doc, str(p), limits)
    raise FeedError("neither CycloneDX VEX, OpenVEX, Yocto cve-check nor SPDX", source=str(p))


def _purl_applies(stmt_purl: str, finding: Finding) -> bool:
    try:
        a, b = PackageURL.from_string(stmt_purl), PackageURL.from_string(finding.component_purl)
    except ValueError:
        return False
    same = (a.type, (a.namespace or "").lower(), a.name.lower()) == (b.type, (b.namespace or "").lower(),
                                                                     b.name.lower())
    return same and (a.version is None or a.version == b.version)


def statement_applies(stmt: VexStatement, finding: Finding, ecus: Iterable[str] = ()) -> bool:
    """Whether ``stmt`` covers ``finding`` (same vulnerability, product in scope).

    A statement without products applies to every finding of its vulnerability. When a
    statement names several kinds of scope (a purl and an ECU), each named kind must hold.
    """
    if stmt.vuln_id != finding.vuln_id:
        return False
    if not stmt.products:
        return True
    ecu_set = set(ecus)
    purls = [p.purl for p in stmt.products if p.purl]
    fws = [p for p in stmt.products if p.firmware_sha256 or p.firmware_path]
    ecu_ids = [p.ecu for p in stmt.products if p.ecu]
    fw_path = (finding.firmware_path or "").split("!")[0]
    checks = []
    if purls:
        checks.append(any(_purl_applies(p, finding) for p in purls))
    if fws:
        checks.append(any((p.firmware_sha256 and p.firmware_sha256 == finding.firmware_sha256)
                          or (p.firmware_path and p.firmware_path in (finding.firmware_path, fw_path))
                          for p in fws))
    if ecu_ids:
        checks.append(bool(ecu_set.intersection(ecu_ids)))
    return all(checks)


def apply_vex(findings: Iterable[Finding], statements: Iterable[VexStatement],
              ecus_of: Callable[[Finding], Iterable[str]] | None = None) -> list[Finding]:
    """Attach the applicable statements; the last applicable suppressing one wins."""
    stmts = list(statements)
    out: list[Finding] = []
    for f in findings:
        ecus = list(ecus_of(f)) if ecus_of else []
        applicable = [s for s in stmts if statement_applies(s, f, ecus)]
        sup = [s for s in applicable if s.suppresses()]
        other = [s for s in applicable if not s.suppresses()]
        if sup:
            s = sup[-1]
            f = replace(f, suppressed_by=s, status=FindingStatus.FIXED if s.status is VexStatus.FIXED else f.status,
                        rule=s.rule, decided_by=s.source, justification=s.justification or s.impact,
                        decision=f"{s.rule} statement {s.status.value} ({s.source})"
                                 + (f": {s.evidence}" if s.evidence else "")
                                 + (f"; before it: {f.decision}" if f.decision else ""))
        if other:
            f = replace(f, triage=other[-1])
        out.append(f)
    return out


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def to_openvex(statements: Iterable[VexStatement], author: str = "ecuscan") -> dict[str, Any]:
    """An OpenVEX v0.2.0 document."""
    out = []
    for s in statements:
        st: dict[str, Any] = {"vulnerability": {"name": s.vuln_id}, "status": s.status.value,
                              "products": [{"@id": _product_id(p)} for p in s.products]}
        if s.justification:
            st["justification"] = s.justification
        if s.impact:
            st["impact_statement"] = s.impact
        if s.status is VexStatus.NOT_AFFECTED and not (s.justification or s.impact):
            st["impact_statement"] = "triaged not affected"
        if s.action:
            st["action_statement"] = s.action
        elif s.status is VexStatus.AFFECTED:
            st["action_statement"] = "update the component"
        out.append(st)
    return {"@context": "https://openvex.dev/ns/v0.2.0", "@id": f"urn:uuid:{uuid.uuid4()}", "author": author,
            "timestamp": _now(), "version": 1, "statements": out}


def _product_id(p: ProductRef) -> str:
    if p.purl:
        return p.purl
    if p.firmware_sha256:
        return f"sha256:{p.firmware_sha256}"
    if p.ecu:
        return f"ecu:{p.ecu}"
    return f"file:{p.firmware_path}"


def to_cyclonedx(statements: Iterable[VexStatement]) -> dict[str, Any]:
    """A CycloneDX 1.6 VEX document (components for the scopes, vulnerabilities with analysis)."""
    comps: dict[str, dict[str, Any]] = {}
    vulns = []
    for s in statements:
        affects = []
        for p in s.products:
            ref = _product_id(p)
            if ref not in comps:
                c: dict[str, Any] = {"type": "library" if p.purl else "device" if p.ecu else "firmware",
                                     "bom-ref": ref, "name": ref}
                if p.purl:
                    c["purl"] = p.purl
                    c["name"] = PackageURL.from_string(p.purl).name
                if p.firmware_sha256:
                    c["hashes"] = [{"alg": "SHA-256", "content": p.firmware_sha256}]
                if p.ecu:
                    c["properties"] = [{"name": "ecuscan:ecu", "value": p.ecu}]
                comps[ref] = c
            affects.append({"ref": ref})
        analysis: dict[str, Any] = {"state": _TO_CDX_STATE[s.status]}
        just = _TO_CDX_JUSTIFICATION.get(s.justification or "", s.justification)
        if just in _CDX_JUSTIFICATIONS:
            analysis["justification"] = just
        if s.impact:
            analysis["detail"] = s.impact
        vulns.append({"id": s.vuln_id, "analysis": analysis, "affects": affects})
    return {"bomFormat": "CycloneDX", "specVersion": "1.6", "serialNumber": f"urn:uuid:{uuid.uuid4()}",
            "version": 1, "metadata": {"timestamp": _now()}, "components": list(comps.values()),
            "vulnerabilities": vulns}
