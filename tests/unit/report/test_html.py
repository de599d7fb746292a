"""The HTML report: self-contained, hostile strings shown as text, SVG allow-list."""

from __future__ import annotations

import re

import pytest

from ecuscan.errors import ReportError
from ecuscan.report.html import render_html, safe_svg

from .sample_doc import HOSTILE, sample_doc

SVG = ('<svg xmlns="http://www.w3.org/2000/svg" width="200" height="50"><g><rect x="1" y="1" width="50" '
       'height="20" fill="#eee"/><text x="5" y="15">zlib &lt;img&gt;</text></g></svg>')


def test_hostile_strings_are_escaped_everywhere() -> None:
    html = render_html(sample_doc(SVG))
    assert HOSTILE not in html  # never as markup
    assert "&lt;img src=x onerror=alert(1)&gt;" in html  # but visible as text
    assert html.count("&lt;img src=x onerror=alert(1)&gt;") >= 6  # manifest name, evidence, path, bench, vuln, error


def test_self_contained_no_external_urls() -> None:
    html = render_html(sample_doc(SVG))
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html)
    assert "<script" not in html.lower()
    assert "Content-Security-Policy" in html


def test_sections_present() -> None:
    html = render_html(sample_doc(SVG))
    for anchor in ("summary", "graph", "vulns", "bench", "sbom", "ecus", "errors"):
        assert f'id="{anchor}"' in html
    assert "CVE-2018-25032" in html and "MISMATCH" in html and "62 F1 89" in html


@pytest.mark.parametrize("bad", [
    '<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
    '<svg xmlns="http://www.w3.org/2000/svg"><rect onload="alert(1)"/></svg>',
    '<svg xmlns="http://www.w3.org/2000/svg" xmlns:x="http://www.w3.org/1999/xlink"><a x:href="javascript:1"/></svg>',
    '<svg xmlns="http://www.w3.org/2000/svg"><image href="http://evil/x.png"/></svg>',
    '<svg xmlns="http://www.w3.org/2000/svg"><rect style="fill:url(http://evil)"/></svg>',
    '<!DOCTYPE svg [<!ENTITY a "aaaa">]><svg xmlns="http://www.w3.org/2000/svg">&a;</svg>',
    "<svg",
])
def test_svg_allow_list_refuses_active_content(bad: str) -> None:
    with pytest.raises(ReportError):
        safe_svg(bad)


def test_plain_svg_is_embedded() -> None:
    assert safe_svg(SVG) is not None
    assert "<rect" in render_html(sample_doc(SVG))
