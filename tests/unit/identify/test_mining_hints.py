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
    assert _standalone_short(_elf(tmp_path, "a", b"\x00(GNU coreutils)\x009.7\x00").read_bytes(), b"9.7")
    # inside a longer printable string, or after a digit, it is not standalone
    assert not _standalone_short(_elf(tmp_path, "b", b"\x00version 9.7\x00").read_bytes(), b"9.7")
    assert not _standalone_short(_elf(tmp_path, "c", b"\x0019.7\x00").read_bytes(), b"9.7")


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


def test_failed_hint_is_measured_again_beside_the_kept_rules(tmp_path: Path) -> None:
    from ecuscan.catalog import load_catalog
    from ecuscan.mining.__main__ import _second_chance_hints, _select
    from ecuscan.mining.evaluate import catalog_with, evaluate

    def rec(project: str, release: str, version: str, body: bytes) -> FileRec:
        d = tmp_path / project / release
        d.mkdir(parents=True, exist_ok=True)
        path = d / "fw.bin"
        path.write_bytes(b"\x5a" * 256 + body + b"\x5a" * 256)
        return FileRec(f"{release}-arm64", release, project, project, version, path, "usr/bin/tool")

    good, bad = b"\x00zqx widget frobnicator ready\x00", b"\x00shared helper table v2 loaded\x00"
    files = [rec("zqxwidget", "bullseye", "4.1.7", good + bad + b"\x004.1.7\x00"),
             rec("zqxwidget", "trixie", "4.2.0", good + bad + b"\x004.2.0\x00"),
             # another project's files carry the shared string and a bare version of their own
             rec("otherlib", "bullseye", "9.9.9", bad + b"\x009.9.9\x00"),
             rec("otherlib", "trixie", "9.9.10", bad + b"\x009.9.10\x00")]
    proposal = {"id": "zqxwidget", "name": "zqxwidget", "purl": "pkg:generic/zqxwidget", "kind": "tool",
                "markers": [r"zqx\ widget\ frobnicator\ ready", r"shared\ helper\ table\ v2\ loaded"],
                "version_hints": [r"(?P<v>\d+(?:\.\d+){2})"]}
    shipped = load_catalog()
    first = evaluate(files, catalog_with([proposal], shipped), {"zqxwidget"}, {})
    chosen = _select(proposal, first, 2, heldout=False)
    # first measurement: the shared marker gives presence in otherlib's files, so the hint reads 9.9.9
    assert chosen["markers"] == [r"zqx\ widget\ frobnicator\ ready"] and chosen["version_hints"] == []
    again = _second_chance_hints([chosen], [proposal], files, shipped, {"zqxwidget"}, {})
    # beside the kept marker only, the hint is right on both releases and fires nowhere else
    assert again[0]["version_hints"] == [r"(?P<v>\d+(?:\.\d+){2})"]
