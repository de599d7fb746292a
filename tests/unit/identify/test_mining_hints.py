"""The miner's bare-version hints: versions shorter than any string it keeps, and shapes that hold
only the counts of dotted numbers the project's releases had."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from ecuscan.mining.corpus import Project
from ecuscan.mining.mine import FileRec, _standalone_short, mine_project, propose


def _elf(tmp: Path, name: str, body: bytes) -> Path:
    p = tmp / name
    p.write_bytes(b"\x7fELF" + b"\x00" * 60 + body + b"\x00" * 64)
    return p


def test_short_standalone_version_is_seen(tmp_path: Path) -> None:
    assert _standalone_short(_elf(tmp_path, "a", b"\x00(GNU coreutils)\x009.7\x00"), b"9.7")
    # inside a longer printable string, or after a digit, it is not standalone
    assert not _standalone_short(_elf(tmp_path, "b", b"\x00version 9.7\x00"), b"9.7")
    assert not _standalone_short(_elf(tmp_path, "c", b"\x0019.7\x00"), b"9.7")


def test_hint_from_both_releases_keeps_the_part_counts(tmp_path: Path) -> None:
    files = []
    for release, version in (("bullseye", "8.32"), ("trixie", "9.7")):
        d = tmp_path / release
        d.mkdir()
        path = _elf(d, "ls", b"\x00%s (%s) %s\x00GNU coreutils\x00" + version.encode() + b"\x00")
        files.append(FileRec(f"{release}-arm64", release, "coreutils", "coreutils", version, path, "usr/bin/ls"))
    project = Project("coreutils", {"name": "GNU coreutils", "purl": "pkg:generic/coreutils"}, ("coreutils",), None)
    pm = mine_project(project, files)
    assert set(pm.standalone) == {"bullseye", "trixie"}  # "9.7" counted though shorter than MIN_STRING
    entry = propose(project, pm, Counter())
    # two-part versions only: an address ("127.0.0.1") or a three-part library version is no candidate
    assert entry["version_hints"] == [r"(?P<v>\d+(?:\.\d+){1})"]
