"""One cell formatter for every renderer; terminal tables whose ids survive 80 columns and pipes."""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime

from rich.console import Console

from ecuscan.report.terminal import Col, StageLog, output_paths, print_table
from ecuscan.report.values import as_bytes, cell, text

IDS = ["CVE-2024-23170", "GHSA-xxxx-yyyy-zzzz", "CVE-2023-38545"]
PURLS = ["pkg:github/mbed-tls/mbedtls@2.28.3", "pkg:generic/curl@8.3.0-with-a-long-qualifier", "pkg:generic/z@1"]


def test_cell_never_prints_python_spellings() -> None:
    assert [cell(v) for v in (None, True, False, "", [], {})] == ["—", "yes", "no", "—", "—", "—"]
    assert cell(datetime(2026, 11, 27, 8, 0, tzinfo=UTC)) == "2026-11-27T08:00:00+00:00"
    assert cell([None, 1, "a"]) == "—, 1, a"
    assert cell(b"\x7fELF\x01") == "7F 45 4C 46 01  |.ELF.|"


def test_binary_evidence_becomes_hex_and_ascii() -> None:
    marker = r"\x00\x00\x00\x00F;ge\x8cvÎÊÊM©¯YëíN\x1fÐ\x8a+Õ\x9d#\x84\x93¦Dá"  # as the scanner stores it
    raw = as_bytes(marker)
    assert raw is not None and raw[:8] == b"\x00\x00\x00\x00F;ge" and raw[8] == 0x8C
    shown = text(marker)
    assert shown.startswith("00 00 00 00 46 3B 67 65 8C 76") and shown.endswith("|")
    assert "\\x" not in shown
    assert text("pbuf_free: p->ref > 0") == "pbuf_free: p->ref > 0"  # readable text stays text
    assert text("ok\x1b[31mred") == "ok␛[31mred"  # a real escape is neutralised and visible


def _render(width: int, rows: list[list[str]], cols: list[Col]) -> str:
    buf = io.StringIO()
    console = Console(file=buf, width=width, force_terminal=False, color_system=None, highlight=False)
    print_table(console, cols, rows, title="findings")
    return buf.getvalue()


def test_ids_stay_whole_at_80_columns_and_wide() -> None:
    cols = [Col("vulnerability", key=True), Col("severity"), Col("component", key=True), Col("firmware", key=True),
            Col("matched by")]
    rows = [[i, "high", p, "firmware/some/deep/path/tcu_app.elf", ">=2.0.0, <2.28.7 (cpe arm:mbed_tls) " * 2]
            for i, p in zip(IDS, PURLS, strict=True)]
    for width in (60, 80, 120, 250):
        out = _render(width, rows, cols)
        assert "…" not in out, (width, out)
        lines = out.splitlines()
        assert all(len(line.rstrip()) <= width for line in lines)
        for token in (*IDS, *PURLS, "firmware/some/deep/path/tcu_app.elf"):
            assert any(token in line for line in lines), (width, token, out)
    assert "┃" in _render(250, rows, cols)  # wide: one table
    assert "\n  component" in _render(80, rows, cols)  # narrow: one block per finding


def test_stage_log_in_a_pipe_prints_each_stage_with_status_and_time() -> None:
    buf = io.StringIO()
    console = Console(file=buf, width=80, force_terminal=False)
    with StageLog(console) as log:
        log.stage("scan", "5 firmware images")
        log.stage("sbom")
        log.finish("done, 2 problem(s)")
    lines = buf.getvalue().splitlines()
    assert re.fullmatch(r"· scan: done in \d+\.\d\d s \(5 firmware images\)", lines[0])
    assert re.fullmatch(r"· sbom: done, 2 problem\(s\) in \d+\.\d\d s", lines[1])


def test_output_paths_names_every_file_in_full(tmp_path) -> None:
    line = output_paths(tmp_path, {"html": "report.html", "md": "report.md", "json": "report.json",
                                   "sarif": "report.sarif", "sboms": ["sbom/a.cdx.json"], "bus_log": None})
    for name in ("report.html", "report.md", "report.json", "report.sarif"):
        assert str(tmp_path.resolve() / name) in line
    assert "None" not in line and "1 SBOMs" in line


def test_stage_log_on_a_terminal_shows_a_bar_not_log_lines() -> None:
    buf = io.StringIO()
    console = Console(file=buf, width=100, force_terminal=True, color_system=None)
    with StageLog(console) as log:
        assert log.progress is not None  # a rich progress bar while the audit runs
        log.stage("scan", "5 firmware images")
        log.stage("vulns")
        log.finish()
    assert "· scan: done" not in buf.getvalue()  # the bar is transient: no log lines on a terminal
    assert [name for name, _, _ in log.done] == ["scan", "vulns"]


def test_quiet_stage_log_prints_nothing() -> None:
    buf = io.StringIO()
    with StageLog(Console(file=buf, force_terminal=False), quiet=True) as log:
        log.stage("scan")
        log.finish()
    assert buf.getvalue() == ""
