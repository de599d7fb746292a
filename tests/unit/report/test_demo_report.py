"""The demo audit's reports tell a reader what to do: the flaw, the fix, the path, every planted
problem highlighted, clean values; the same facts in JSON, SARIF and Markdown."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import pytest
from click.testing import CliRunner
from conftest import FIRMWARE, GRAPHS

from ecuscan.cli import main

pytestmark = pytest.mark.skipif(not (FIRMWARE / "bcm_app.elf").is_file(), reason="demo firmware not built")
SVG_NS = "{http://www.w3.org/2000/svg}"


@pytest.fixture(scope="module")
def audit(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], Path, str]:
    out = tmp_path_factory.mktemp("demo")
    res = CliRunner().invoke(main, ["audit", str(GRAPHS / "demo.yaml"), "-o", str(out), "--store",
                                    str(out / "inv.sqlite"), "--timestamp", "2026-11-27T00:00:00+00:00"])
    assert res.exit_code == 1, res.output  # the drifted BCM fails the default policy
    return json.loads((out / "report.json").read_text()), out, res.output


def _finding(doc: dict[str, Any]) -> dict[str, Any]:
    return next(v for v in doc["vulnerabilities"] if v["id"] == "CVE-2024-23170")


class _Text(HTMLParser):
    """The visible text of a page (what a reader sees), without style and the SVG's titles."""

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self.skip = 0

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        self.skip += tag in ("style", "title")

    def handle_endtag(self, tag: str) -> None:
        self.skip -= tag in ("style", "title")

    def handle_data(self, data: str) -> None:
        if not self.skip:
            self.parts.append(data)


def test_finding_names_the_flaw_the_fix_and_the_path(audit: tuple[dict[str, Any], Path, str]) -> None:
    doc, _, _ = audit
    f = _finding(doc)
    assert "timing side channel in RSA private operations" in f["description"]  # not cut after sentence one
    assert f["fixed"] == "2.28.7"  # the first release after >=2.0.0,<2.28.7, on the 2.28.x line
    assert f["cvss"]["vector"] == "CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:N/A:N" and f["cvss"]["score"] == 5.5
    assert f["cwes"] == ["CWE-203", "CWE-385"]
    (path,) = f["path"]
    assert (path["vehicle"], path["ecu"]) == ("ev27", "tcu") and path["firmware"].endswith("firmware/tcu_app.elf")
    assert path["tiers"] == ["Telenova Connect (tier 1)", "SecureComm Labs (tier 2)"]
    assert f["vex"] is None


def test_what_to_do_lists_every_planted_problem_most_pressing_first(audit: tuple[dict[str, Any], Path, str]) -> None:
    doc, out, output = audit
    kinds = [a["kind"] for a in doc["actions"]]
    assert kinds == ["drifted", "vulnerable", "undeclared"]
    text = " ".join(a["text"] for a in doc["actions"])
    assert "F189 2.4.2 (analysed: 2.4.1)" in text
    assert "update mbedtls 2.28.3 to 2.28.7 or later in tcu" in text
    assert "ask Kestrel Automotive Networks to declare zlib 1.3.1" in text
    assert "## What to do" in (out / "report.md").read_text()
    assert "What to do" in (out / "report.html").read_text()
    assert "what to do:" in output and "2.28.7 or later" in " ".join(output.split())


def test_top_suppliers_lists_only_exposed_suppliers(audit: tuple[dict[str, Any], Path, str]) -> None:
    doc, _, _ = audit
    by_id = {v["id"]: v["summary"] for v in doc["vehicles"]}
    assert by_id["suv26"]["top_suppliers"] == []  # the SUV has no exposed finding
    assert {s["id"] for s in by_id["ev27"]["top_suppliers"]} == {"telenova", "securecomm", "mbedtls"}
    assert all(s["findings"] > 0 for s in by_id["ev27"]["top_suppliers"])


def test_picture_marks_every_planted_problem_and_fits_the_page(audit: tuple[dict[str, Any], Path, str]) -> None:
    doc, _, _ = audit
    marks = doc["graph"]["marks"]
    assert marks["vulnerable"] == ["component:pkg:github/mbed-tls/mbedtls@2.28.3"]
    (undeclared,) = marks["undeclared"]
    assert undeclared.startswith("component:pkg:") and undeclared.endswith("/zlib@1.3.1")
    assert marks["drifted"] == ["ecu:bcm"]
    root = ElementTree.fromstring(doc["graph"]["svg"])
    assert root.get("width") == "100%"
    assert float(root.get("viewBox", "").split()[2]) <= 1180  # the report's panel at 1,280 px
    tags = [t.text for t in root.iter(f"{SVG_NS}text") if t.text and t.text.startswith("⚠")]
    assert sorted(tags) == ["⚠ drifted", "⚠ undeclared", "⚠ vulnerable"]
    # every box lies inside the picture: nothing falls off the right edge
    for rect in root.iter(f"{SVG_NS}rect"):
        if rect.get("x") is not None and rect.get("width", "").replace(".", "").isdigit():
            assert float(rect.get("x", 0)) + float(rect.get("width", 0)) <= float(root.get("viewBox", "").split()[2])
    # no label is cut mid-name: the long supplier name is wrapped onto two lines
    texts = " ".join(t.text or "" for t in root.iter(f"{SVG_NS}text"))
    assert "Kestrel Automotive" in texts and "Networks" in texts and "Netwo…" not in texts


def test_html_shows_clean_values_only(audit: tuple[dict[str, Any], Path, str]) -> None:
    _, out, _ = audit
    html = (out / "report.html").read_text()
    parser = _Text()
    parser.feed(html)
    text = " ".join(parser.parts)
    for word in ("None", "True", "False"):
        assert not re.search(rf"\b{word}\b", text), f"{word!r} shown as page text"
    assert "\\x00" not in text and "\\x8c" not in text
    assert "timing side channel" in text and "2.28.7" in text and "CVSS:3.1/AV:L" in text
    assert "Telenova Connect (tier 1) → SecureComm Labs (tier 2)" in text
    assert "Content-Security-Policy" in html and "<script" not in html.lower()
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html)  # references are text, not links


def test_sarif_and_markdown_carry_the_same_facts(audit: tuple[dict[str, Any], Path, str]) -> None:
    _, out, _ = audit
    sarif = json.loads((out / "report.sarif").read_text())
    run = sarif["runs"][0]
    rule = next(r for r in run["tool"]["driver"]["rules"] if r["id"] == "CVE-2024-23170")
    assert "timing side channel" in rule["fullDescription"]["text"]
    assert "Fixed in:** 2.28.7" in rule["help"]["markdown"]
    res = next(r for r in run["results"] if r["ruleId"] == "CVE-2024-23170")
    assert res["properties"]["fixedIn"] == "2.28.7"
    assert res["properties"]["cvssVector"].startswith("CVSS:3.1/")
    assert res["properties"]["supplyChain"][0]["ecu"] == "tcu"
    md = (out / "report.md").read_text()
    assert "**Status: FAILED**" in md and "timing side channel" in md and "2.28.7" in md
    assert "| bcm | `F189` | `2.4.1` | `2.4.2` | MISMATCH |" in md
    assert re.search(r"\| gw \| `\S*firmware/gw_app.elf` \| undeclared \| zlib \| 1\.3\.1 \|", md)
    assert "None" not in md and "True" not in md and "\\x00" not in md


def test_cli_names_every_output_path(audit: tuple[dict[str, Any], Path, str]) -> None:
    _, out, output = audit
    last = [line for line in output.splitlines() if line.startswith("wrote ")][-1]
    for name in ("report.html", "report.md", "report.json", "report.sarif", "bus.log"):
        assert str(out.resolve() / name) in " ".join(output.split()), name
    assert last.startswith("wrote ")
    assert re.search(r"· bench: done in \d+\.\d\d s", output)  # a plain stage line with its status (no TTY)


def test_report_command_re_renders(audit: tuple[dict[str, Any], Path, str], tmp_path: Path) -> None:
    _, out, _ = audit
    res = CliRunner().invoke(main, ["report", str(out / "report.json"), "--format", "md", "-o", str(tmp_path)])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "report.md").read_text() == (out / "report.md").read_text()
    assert not (tmp_path / "report.html").exists()
    res = CliRunner().invoke(main, ["report", str(out / "report.json"), "-o", str(tmp_path)])
    assert res.exit_code == 0 and (tmp_path / "report.html").read_text() == (out / "report.html").read_text()
    bad = tmp_path / "other.json"
    bad.write_text(json.dumps({"schema": "ecuscan/scan/v1"}))
    res = CliRunner().invoke(main, ["report", str(bad)])
    assert res.exit_code == 2 and "not an ecuscan audit document" in " ".join(res.output.split())


@pytest.mark.browser
@pytest.mark.skipif(__import__("shutil").which("chromium") is None, reason="chromium not installed")
def test_demo_report_in_chromium_at_1280(audit: tuple[dict[str, Any], Path, str], tmp_path: Path) -> None:
    from .browser import dump_dom, screenshot
    from .test_browser import non_blank

    _, out, _ = audit
    png = tmp_path / "demo.png"
    screenshot(out / "report.html", png, width=1280, height=2600)
    assert non_blank(png) > 0.05
    dom = dump_dom(out / "report.html")
    assert "There was a timing side channel in RSA private operations." in dom
    assert "⚠ vulnerable" in dom and "⚠ undeclared" in dom and "⚠ drifted" in dom
    assert "BCM &lt;img src=x onerror=alert(1)&gt;" in dom and "<img" not in dom.replace("&lt;img", "")


def test_vulns_match_at_80_columns_in_a_pipe_keeps_every_id_whole(audit: tuple[dict[str, Any], Path, str]) -> None:
    from .readme_samples import run_sample

    _, out, _ = audit
    text = run_sample(f"ecuscan vulns match {GRAPHS / 'demo.yaml'}", f"sqlite:///{out / 'inv.sqlite'}")
    lines = text.splitlines()
    assert all(len(line) <= 80 + 4 for line in lines)  # 80 columns (+ the README's indent)
    assert "…" not in text
    for ident in ("CVE-2024-23170", "pkg:github/mbed-tls/mbedtls@2.28.3", "firmware/tcu_app.elf", "securecomm"):
        assert any(ident in line for line in lines), ident
