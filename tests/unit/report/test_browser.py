"""The HTML report in a real browser (Debian's chromium, installed by .ci/run)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ecuscan.report.html import render_html

from .browser import chromium, dump_dom, screenshot
from .sample_doc import HOSTILE, sample_doc
from .test_html import SVG

pytestmark = [pytest.mark.browser, pytest.mark.skipif(chromium() is None, reason="chromium not installed")]


def non_blank(png: Path) -> float:
    """Fraction of pixels that differ from the most common colour."""
    from PIL import Image

    with Image.open(png) as im:
        colours = im.convert("RGB").getcolors(maxcolors=1 << 24) or []
    total = sum(n for n, _ in colours)
    top = max(n for n, _ in colours)
    return 1 - top / total


def test_report_renders_and_hostile_string_is_text(tmp_path: Path) -> None:
    page = tmp_path / "report.html"
    page.write_text(render_html(sample_doc(SVG)), encoding="utf-8")
    png = tmp_path / "shot.png"
    screenshot(page, png)
    assert non_blank(png) > 0.05  # a real page, not a blank canvas
    dom = dump_dom(page)
    # The hostile firmware string is in the document as text ...
    assert "&lt;img src=x onerror=alert(1)&gt;" in dom
    # ... and never became an element: the only <img> would be one we put there, and we put none.
    assert "<img" not in dom.replace("&lt;img", "")
    assert HOSTILE not in dom
    for section in ("Summary", "Supply chain", "Vulnerabilities", "Bench check", "SBOM reconciliation"):
        assert section in dom
