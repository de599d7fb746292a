"""report.md and the HTML page: hostile text stays text, INCOMPLETE and per-ECU verdicts are shown."""

from __future__ import annotations

import re

from ecuscan.report.html import render_html
from ecuscan.report.markdown import md, render_markdown

from .sample_doc import HOSTILE, sample_doc

INCOMPLETE = {"status": "incomplete",
              "incomplete": [{"stage": "bench", "source": "can0", "reason": "bus not opened " + HOSTILE}]}


def test_markdown_escapes_hostile_strings() -> None:
    text = render_markdown(sample_doc())
    # as prose it is escaped; inside a code span (observed DID values) Markdown shows it verbatim, never as HTML
    assert HOSTILE not in re.sub(r"`[^`]*`", "", text) and "&lt;img src=x onerror=alert(1)&gt;" in text
    assert "`2.4.2" + HOSTILE + "`" in text
    assert "CVE-2018-25032" in text and "**Status: FAILED**" in text
    assert md("a|b *c* [x](y)") == "a\\|b \\*c\\* \\[x\\](y)"
    assert not re.search(r"\b(None|True|False)\b", text)


def test_incomplete_banner_and_verdicts_when_present() -> None:
    doc = {**sample_doc(), **INCOMPLETE}
    doc["ecus"][0]["verdict"] = "DRIFTED"
    html = render_html(doc)
    assert html.index('id="incomplete"') < html.index('id="summary"')  # the banner comes first
    assert "INCOMPLETE" in html and "bus not opened &lt;img" in html
    assert '<span class="badge DRIFTED">DRIFTED</span>' in html
    md_text = render_markdown(doc)
    assert md_text.index("**INCOMPLETE**") < md_text.index("## Vehicles")
    assert "| ECU | verdict |" in md_text and "DRIFTED" in md_text


def test_no_banner_and_no_verdict_column_without_them() -> None:
    html = render_html(sample_doc())
    assert 'id="incomplete"' not in html and "INCOMPLETE:" not in html
    assert "| ECU | verdict |" not in render_markdown(sample_doc())
