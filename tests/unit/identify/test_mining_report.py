"""The miner's report tells a project that had nothing to mine from one whose files held no rule."""

from __future__ import annotations

import json
from pathlib import Path

from ecuscan.mining.__main__ import split_unmined
from ecuscan.mining.report import render


def _corpus(root: Path) -> None:
    """A two-project mining corpus: ``withelf`` ships an ELF file in trixie/armhf, ``noelf`` only a script."""
    for name, data in (("withelf", b"\x7fELF\x01\x01\x01" + b"\0" * 64), ("noelf", b"#!/bin/sh\necho hi\n")):
        d = root / "trixie-armhf" / name / "usr" / "bin"
        d.mkdir(parents=True)
        (d / name).write_bytes(data)
    packages = {n: {"package": n, "project": n, "version": "1.0-1", "dir": f"trixie-armhf/{n}"}
                for n in ("withelf", "noelf")}
    (root / "corpus-trixie-armhf.json").write_text(json.dumps({"release": "trixie", "arch": "armhf",
                                                               "packages": packages}))


def test_split_unmined_by_the_files_of_the_mining_releases(tmp_path: Path) -> None:
    _corpus(tmp_path)
    assert split_unmined(tmp_path, ["noelf", "withelf", "absent"]) == (["absent", "noelf"], ["withelf"])


def test_render_names_both_kinds() -> None:
    report = {"mining": {}, "heldout": {}, "rules_text": {}, "generated": "2026-12-03",
              "mining_releases": ["bullseye", "trixie"], "heldout_releases": ["sid"], "arches": ["armhf"],
              "mining_files": 1, "dev_corpus_files": 0, "heldout_files": 0, "entries": [],
              "projects": ["a", "b", "c"], "no_signature": ["b"], "no_files": ["c"], "per_project": {}}
    text = render(report)
    assert "no rule held for: b; no ELF file in the mining releases (nothing to mine) for: c." in text
    report.pop("no_files")  # a report written before the split: nothing listed as file-less
    assert "no rule held for: b; no ELF file in the mining releases (nothing to mine) for: -." in render(report)
