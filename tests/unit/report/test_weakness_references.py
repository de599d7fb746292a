"""A feed's CWE names and reference URLs are hostile text: the HTML report escapes them, the
Markdown report keeps them in code spans, neither links them."""

from __future__ import annotations

import copy

from ecuscan.report.html import render_html
from ecuscan.report.markdown import render_markdown
from ecuscan.vulns.parsers import parse_record

from .sample_doc import HOSTILE, sample_doc


def _hostile_record() -> dict:  # type: ignore[type-arg]
    """A CVE 5 record shaped like the real ones, with markup in its problem type and references."""
    return {"dataType": "CVE_RECORD", "dataVersion": "5.1",
            "cveMetadata": {"cveId": "CVE-2099-0001", "state": "PUBLISHED", "dateUpdated": "2099-01-01T00:00:00Z"},
            "containers": {"cna": {
                "descriptions": [{"lang": "en", "value": "A flaw."}],
                "affected": [{"vendor": "v", "product": "p", "versions": [{"version": "1.0", "status": "affected"}]}],
                "problemTypes": [{"descriptions": [{"type": "CWE", "cweId": "CWE-79",
                                                    "description": f"CWE-79 Name {HOSTILE}", "lang": "en"}]}],
                "references": [{"url": f"https://example.org/{HOSTILE.replace(' ', '')}"},
                               {"url": "javascript:alert(1)"}]}}}


def test_hostile_cwe_name_and_reference_are_escaped_not_linked() -> None:
    v = parse_record("cve5", _hostile_record())
    assert v.references == (f"https://example.org/{HOSTILE.replace(' ', '')}",)  # javascript: dropped
    assert v.cwe_name("CWE-79") == f"Name {HOSTILE}"
    doc = copy.deepcopy(sample_doc())
    doc["vulnerabilities"][0].update(cwes=list(v.cwes), weaknesses=v.weaknesses(), references=list(v.references))
    html = render_html(doc)
    vulns = html.split('id="vulns"', 1)[1].split("</section>", 1)[0]
    assert "<img" not in vulns and "&lt;img" in vulns
    assert "href=" not in vulns
    assert "CWE-79 Name &lt;img src=x onerror=alert(1)&gt;" in vulns
    md = render_markdown(doc)
    assert f"`{v.references[0]}`" in md
    assert "- **Weakness:** CWE-79 Name &lt;img src=x onerror=alert(1)&gt;" in md  # no raw markup in Markdown
