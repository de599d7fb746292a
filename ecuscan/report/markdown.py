"""The audit as Markdown (``report.md``): a summary to paste into a merge request or a ticket.

Rendered from the audit document like the HTML page. Every value goes through
:func:`ecuscan.report.values.cell` and then :func:`md`, which escapes what Markdown (and the
HTML that GitLab/GitHub let through) would interpret, so a hostile string from firmware or a
feed stays text. References are written as code spans: shown, never linked.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from .values import ABSENT, cell, flaw, weaknesses

_SPECIAL = re.compile(r"([\\`*_\[\]|~])")  # what changes meaning mid-line (< > & become entities)


def md(value: Any, limit: int = 400) -> str:
    r"""A value as Markdown text: formatted by :func:`cell`, markup characters escaped, one line.

    >>> md("<img src=x> *bold* | pipe")
    '&lt;img src=x&gt; \\*bold\\* \\| pipe'
    >>> md(None), md(True)
    ('—', 'yes')
    """
    text = " ".join(cell(value, limit=limit).split())
    text = _SPECIAL.sub(r"\\\1", text)
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def code(value: Any, limit: int = 400) -> str:
    """A value as an inline code span (identifiers, vectors, URLs shown as text).

    >>> code("CVSS:3.1/AV:L"), code("a`b")
    ('`CVSS:3.1/AV:L`', '``a`b``')
    """
    text = " ".join(cell(value, limit=limit).split()).replace("|", "\\|")  # a pipe would end a table cell
    fence = "``" if "`" in text else "`"
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    """A GitHub-flavoured Markdown table (cells already escaped)."""
    if not rows:
        return ["none", ""]
    out = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    out.extend("| " + " | ".join(r) + " |" for r in rows)
    return [*out, ""]


def finding_markdown(f: Mapping[str, Any], level: int = 3) -> str:
    """One finding: what the flaw is, the fix, where it sits in the supply chain, its triage."""
    score = f" {f['score']}" if f.get("score") is not None else ""
    state = "suppressed by VEX" if f.get("suppressed") else ("exposed" if f.get("exposed") else cell(f.get("status")))
    lines = [f"{'#' * level} {md(f.get('id'))} ({md(f.get('severity'))}{score}) in "
             f"{md(f.get('component'))} {md(f.get('version'))}: {state}", "",
             f"**{md(flaw(f.get('description') or f.get('summary')))}**", "",
             md(f.get("description") or f.get("summary"), 4000), ""]
    cvss = f.get("cvss") or {}
    fixed = f.get("fixed")
    lines.append(f"- **Fixed in:** {md(fixed)} (first release after the matched range)" if fixed
                 else "- **Fixed in:** no fixed release named by the record")
    lines.append(f"- **Matched range:** {code(f.get('range'))} by {code(f.get('matched_by'))}")
    if f.get("decided_by") or f.get("rule"):
        lines.append(f"- **Decided by:** {md(f.get('decided_by'))} (rule {md(f.get('rule'))})")
    lines.append(f"- **Weakness:** {md(weaknesses(f))}")
    lines.append(f"- **CVSS:** {md(cvss.get('score'))} {md(cvss.get('severity'))} {code(cvss.get('vector'))}"
                 if cvss else "- **CVSS:** —")
    vex = f.get("vex")
    lines.append(f"- **VEX:** {md(vex.get('status'))}: {md(vex.get('justification') or vex.get('impact'))}"
                 f" ({md(vex.get('source'))})" if vex else "- **VEX:** no statement")
    for p in f.get("path") or []:
        tiers = f"; delivered by {md(' → '.join(p.get('tiers') or []))}" if p.get("tiers") else ""
        lines.append(f"- **Path:** {md(p.get('vehicle'))} → {md(p.get('ecu'))} → {code(p.get('firmware'))} → "
                     f"{md(p.get('component'))}{tiers}")
    if not f.get("path"):
        lines.append(f"- **ECUs / vehicles:** {md(f.get('ecus'))} / {md(f.get('vehicles'))}")
    lines.append(f"- **purl:** {code(f.get('purl'))}")
    refs = f.get("references") or []
    lines.append("- **References:** " + (", ".join(code(r) for r in refs) if refs else ABSENT))
    return "\n".join(lines) + "\n"


def _status_lines(doc: Mapping[str, Any]) -> list[str]:
    lines: list[str] = []
    if doc.get("status") == "incomplete":
        lines += ["> **INCOMPLETE**: not everything asked for could be checked; missing findings below mean nothing.",
                  ">"]
        lines += [f"> - {md(i.get('stage'))}: {md(i.get('source'))}: {md(i.get('reason'))}"
                  for i in doc.get("incomplete") or []]
        lines.append("")
    pol = doc.get("policy") or {}
    status = doc.get("status") or ("failed" if pol.get("failed") else "passed")
    lines.append(f"**Status: {md(str(status).upper())}** (fail on: {md(pol.get('fail_on') or 'nothing')})")
    lines += [f"- {md(r, 600)}" for r in pol.get("reasons") or []]
    return [*lines, ""]


def render_markdown(doc: Mapping[str, Any]) -> str:
    """The audit document (schema ``ecuscan/audit/v1``) as one Markdown page."""
    man = doc.get("manifest") or {}
    out = [f"# ecuscan audit: {md(man.get('name'))}", "",
           f"Manifest {code(man.get('path'))}, generated {md(doc.get('generated'))} by ecuscan "
           f"{md(doc.get('ecuscan_version'))}.", ""]
    out += _status_lines(doc)
    if doc.get("actions"):
        out += ["## What to do", ""]
        out += [f"{i}. **{md(a.get('kind'))}**: {md(a.get('text'), 1000)}" for i, a in enumerate(doc["actions"], 1)]
        out.append("")
    out += ["## Vehicles", ""]
    rows = []
    for v in doc.get("vehicles") or []:
        s = v.get("summary") or {}
        vuln = ", ".join(f"{k} {n}" for k, n in (s.get("vulnerable_components") or {}).items() if n) or "none"
        top = ", ".join(f"{t['name']} ({t['findings']})" for t in s.get("top_suppliers") or [] if t.get("findings"))
        rows.append([f"{md(v.get('name') or v.get('id'))} ({md(v.get('id'))})", md(s.get("ecus")),
                     md(s.get("verified")), md(s.get("drifted")), md(s.get("unreachable")),
                     md(s.get("components")), md(s.get("undeclared")), md(vuln),
                     md(s.get("exposed_ecus") or "none"), md(top or "none")])
    out += table(["vehicle", "ECUs", "verified", "drifted", "unreachable", "components", "undeclared",
                  "vulnerable components", "exposed ECUs", "top suppliers by exposure"], rows)
    ecus = doc.get("ecus") or []
    out += ["## ECUs", ""]
    verdicts = any(e.get("verdict") for e in ecus)
    out += table(["ECU", *(["verdict"] if verdicts else []), "bench", "supplier chain"],
                 [[f"{md(e.get('name') or e.get('id'))} ({md(e.get('id'))})",
                   *([md(e.get("verdict"))] if verdicts else []),
                   md((e.get("bench") or {}).get("status") or "not checked"),
                   md(" ← ".join(e.get("supplier_chain") or []))] for e in ecus])
    vulns = doc.get("vulnerabilities") or []
    out += [f"## Vulnerabilities ({len(vulns)})", ""]
    out += [finding_markdown(f) for f in vulns] or ["none", ""]
    drift = [(e, v) for e in ecus for v in ((e.get("bench") or {}).get("verdicts") or [])
             if v.get("verdict") != "MATCH"]
    out += ["## Bench: what did not match", ""]
    out += table(["ECU", "DID", "expected", "observed", "verdict", "request → response"],
                 [[md(e.get("id")), code(v.get("did")), code(v.get("expected")), code(v.get("observed")),
                   md(v.get("verdict")), code(f"{v.get('request')} → {v.get('response')}")] for e, v in drift])
    recon = [(e, fw, r) for e in ecus for fw in e.get("firmware") or [] if fw.get("reconciliation")
             for r in fw["reconciliation"].get("rows") or [] if r.get("status") != "matched"]
    out += ["## SBOM reconciliation: what the supplier SBOMs do not say", ""]
    out += table(["ECU", "firmware", "status", "component", "found", "declared", "evidence"],
                 [[md(e.get("id")), code(fw.get("path")), md(r.get("status")), md(r.get("component")),
                   md(r.get("found")), md(r.get("declared")), code(r.get("evidence"))] for e, fw, r in recon])
    if doc.get("drift"):
        out += ["## Provenance drift", ""]
        out += table(["firmware", "severity", "indicator"],
                     [[md(d.get("firmware")), md(d.get("severity")), md(d.get("message"))] for d in doc["drift"]])
    if doc.get("errors"):
        out += ["## Problems", ""]
        out += table(["input", "problem"], [[code(e.get("source")), md(e.get("message"), 1000)]
                                            for e in doc["errors"]])
    outputs = doc.get("outputs") or {}
    files = [outputs.get(k) for k in ("html", "md", "json", "sarif", "bus_log") if outputs.get(k)]
    out += ["## Outputs", "", ", ".join(code(f) for f in files) + f", {len(outputs.get('sboms') or [])} SBOM(s) "
            "in `sbom/`", ""]
    return "\n".join(out) + "\n"
