"""Hostile strings in outputs: no forged lines in text, no raw control or bidi characters in HTML."""

from __future__ import annotations

import io
import re
import sys
import tarfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "unit"))
from report.sample_doc import sample_doc  # tests/unit/report/sample_doc.py

from ecuscan.report.html import render_html
from ecuscan.textsafe import neutralise, printable

from .runner import MiB, run_cli, store_env

#: Every character the HTML report must not carry raw: C0 (but tab/LF/CR, which the template's own
#: layout uses), DEL, C1, bidi embeddings/overrides/isolates/marks, zero-width and line separators.
RAW_UNSAFE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f"
                        "\u061c\u200b-\u200f\u2028-\u202e\u2060\u2066-\u2069\ufeff]")
EVIL = "\u202eexe.txt\x1b[2J\x07\u2066x\u2069\x00\u200f"


def _poison(node: Any) -> Any:
    """The same document with the hostile characters appended to every string in it."""
    if isinstance(node, str):
        return node + EVIL
    if isinstance(node, list):
        return [_poison(x) for x in node]
    if isinstance(node, dict):
        return {k: _poison(v) for k, v in node.items()}
    return node


def test_html_report_has_no_raw_control_or_bidi_characters() -> None:
    doc = _poison(sample_doc())
    doc["schema"] = "ecuscan/audit/v1"
    html = render_html(doc)
    found = sorted({f"U+{ord(c):04X}" for c in RAW_UNSAFE.findall(html)})
    assert not found, f"raw control/bidi characters in the HTML report: {found}"
    assert "\\u202eexe.txt\\x1b[2J\\x07" in html  # shown, visibly, where the string was


def test_textsafe_neutralises_every_unsafe_character() -> None:
    every = "".join(chr(c) for c in range(0x20)) + "\x7f\x85\u061c\u200e\u202a\u202e\u2028\u2066\ufeff"
    assert not RAW_UNSAFE.search(neutralise(every))
    assert not RAW_UNSAFE.search(printable(every, 10_000)) and "\n" not in printable(every, 10_000)


def test_newline_in_member_name_does_not_forge_a_line(tmp_path: Path) -> None:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        data = b"zlib inflate 1.2.11 Copyright 1995-2017 Mark Adler \0"
        info = tarfile.TarInfo("lib.so\nerror: FORGED LINE\x1b[31m")
        info.size = len(data)
        tf.addfile(info, io.BytesIO(data))
    tar = tmp_path / "evil.tar"
    tar.write_bytes(buf.getvalue())
    run = run_cli(["scan", "--members", "--per-file", str(tar)], timeout=60, env=store_env(tmp_path))
    assert run.returncode == 0 and "Traceback" not in run.stderr, str(run)
    text = run.stdout + run.stderr
    assert not any(line.startswith("error: FORGED") for line in text.splitlines()), text
    assert "\x1b" not in text
    assert "lib.so\\x0aerror: FORGED LINE" in text.replace("\n", ""), text
    assert run.peak_rss < 600 * MiB
