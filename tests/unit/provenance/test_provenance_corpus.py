"""Provenance on the bare-metal Cortex-M images of the development corpus, against baremetal.json."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from ecuscan.formats import load
from ecuscan.provenance import extract

pytestmark = pytest.mark.corpus

CORPUS_TRUTH = "baremetal.json"
# Same default as the ``corpus`` fixture in tests/conftest.py (parametrisation needs it at import time).
_ROOT = Path(os.environ.get("ECUSCAN_DEV_CORPUS", Path.home() / ".cache" / "ecuscan" / "dev-corpus"))


def _entries(corpus_root: Path) -> list[dict]:
    path = corpus_root / CORPUS_TRUTH
    return json.loads(path.read_text())["files"] if path.is_file() else []


def _ids() -> list[str]:
    return [e["file"] for e in _entries(_ROOT)] or ["fw/tcu_m4_debug.elf"]


@pytest.mark.parametrize("rel", _ids())
def test_bare_metal_image(corpus: Path, rel: str) -> None:
    truth = next(e for e in _entries(corpus) if e["file"] == rel)
    data = (corpus / rel).read_bytes()
    prov = extract(load(data, rel))

    if truth["build_id_bytes_in_payload"] or truth["format"] == "elf":
        assert prov.build_id == truth["build_id"]
    if truth["format"] == "elf":
        assert prov.stripped is truth["stripped"] and prov.has_dwarf is truth["dwarf"]
        comment = next(t for t in prov.toolchains if t.source == "comment")
        assert comment.text == truth["compiler_banner"]
        version = re.search(r"\) (\d+\.\d+\.\d+)", truth["compiler_banner"]).group(1)  # type: ignore[union-attr]
        assert (comment.name, comment.version) == ("GCC", version)
        assert bool(prov.build_paths) is truth["build_paths_in_file"]
    else:
        # Flash payloads carry no .comment and no path strings in these builds.
        assert prov.has_dwarf is False and prov.build_paths == ()
    if truth["dwarf"]:
        producers = [t for t in prov.toolchains if t.source == "dwarf-producer" and t.name == "GCC"]
        flags = {f for t in producers for f in t.flags}
        assert set(truth["cpu_flags"].split()) <= flags and set(truth["opt"].split()) <= flags
        assert not any(f.startswith("-D") for f in flags)
        # newlib was built by its Debian maintainer: his home directory is in the DWARF paths.
        assert "pere" in prov.users
        assert any(p.startswith("/home/pere/src/newlib-salsa/") for p in prov.build_paths)
