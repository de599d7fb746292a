"""Every mined catalog entry (``ecuscan/catalog/domains/linux-*.yaml``) on the real packages it was mined from.

Generated over the signature miner's corpus (``python -m ecuscan.mining fetch``: Debian bullseye,
trixie and sid, armhf and arm64, under ``~/.cache/ecuscan/catalog`` or ``$ECUSCAN_MINED_CORPUS``):
for each entry, the files of its project's packages are identified one at a time: in each mining
release (bullseye, trixie) that has files of it, at least one file must hold the component, and an
entry with version rules must give the package's exact upstream version for at least one file.
Per-release recall (the held-out sid included) is measured, not asserted here: docs/accuracy.md.
Skipped with a reason when the corpus is absent.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from ecuscan.catalog import load_catalog
from ecuscan.formats import load
from ecuscan.identify import identify
from ecuscan.model import Relation

ROOT = Path(os.environ.get("ECUSCAN_MINED_CORPUS", Path.home() / ".cache/ecuscan/catalog"))
DATA = Path(__file__).resolve().parents[3] / "ecuscan" / "catalog" / "domains"
CAT = load_catalog()


def _mined_entries() -> list[dict]:  # type: ignore[type-arg]
    out = []
    for f in sorted(DATA.glob("linux-*.yaml")):
        out += (yaml.safe_load(f.read_text("utf-8")) or {}).get("components", [])
    return out


ENTRIES = _mined_entries()


def test_mined_entries_exist_and_carry_identity() -> None:
    assert len(ENTRIES) >= 80
    for e in ENTRIES:
        entry = CAT.get(e["id"])
        assert entry is not None, e["id"]
        assert entry.purl_base.startswith("pkg:") and entry.cpes, e["id"]
        assert entry.patterns or entry.markers or entry.sonames or entry.version_hints, e["id"]
        for p in entry.patterns:
            assert "(?P<v>" in p, (e["id"], p)


def _files(project: str) -> Iterator[tuple[str, str, Path]]:
    from ecuscan.mining.corpus import ARCHES, HELDOUT_RELEASES, MINING_RELEASES
    from ecuscan.mining.mine import corpus_files

    for f in corpus_files(ROOT, (*MINING_RELEASES, *HELDOUT_RELEASES), ARCHES, {project}):
        yield f.release, f.version, f.path


def _may_match(entry: dict, path: Path, data: bytes) -> bool:  # type: ignore[type-arg]
    """A cheap look for the entry's literal anchors or soname before running identify()."""
    import re

    from ecuscan.identify.signatures import literal_anchor

    anchors = [literal_anchor(p.encode()) for p in (*entry.get("patterns", []), *entry.get("markers", []))]
    return (any(a and a in data for a in anchors)
            or any(re.search(rx, path.name) for rx in entry.get("sonames", [])))


def _order(files: list[tuple[str, str, Path]]) -> list[tuple[str, str, Path]]:
    # the project's programs first (where version banners live), then everything else
    return sorted(files, key=lambda f: (not any(d in str(f[2]) for d in ("/bin/", "/sbin/")), str(f[2])))


@pytest.mark.parametrize("entry", ENTRIES, ids=[e["id"] for e in ENTRIES])
def test_mined_entry_on_real_packages(entry: dict) -> None:  # type: ignore[type-arg]
    if not any(ROOT.glob("corpus-*.json")):
        pytest.skip(f"no mined corpus at {ROOT} (python -m ecuscan.mining fetch)")
    from ecuscan.mining.corpus import MINING_RELEASES

    versioned = bool(entry.get("patterns") or entry.get("version_hints")
                     or any("(?P<v>" in rx for rx in entry.get("sonames", [])))
    present: dict[str, bool] = {}
    exact: dict[str, bool] = {}
    tried: dict[str, int] = {}
    for release, version, path in _order(list(_files(entry["id"]))):
        present.setdefault(release, False)
        exact.setdefault(release, False)
        if (present[release] and (exact[release] or not versioned)) or tried.get(release, 0) >= 60:
            continue
        data = path.read_bytes()
        if not _may_match(entry, path, data):
            continue
        tried[release] = tried.get(release, 0) + 1
        comps = identify(load(data, str(path)), CAT)
        got = {c.version for c in comps if c.id == entry["id"] and c.relation is Relation.CONTAINS}
        present[release] |= bool(got)
        exact[release] |= version in got
    if not present:
        pytest.skip(f"no files of {entry['id']} in the mined corpus")
    missing = sorted(r for r, ok in present.items() if r in MINING_RELEASES and not ok)
    assert not missing, f"{entry['id']}: not found in any file of {missing}"
    if versioned:
        assert any(exact.values()), f"{entry['id']}: no file found at its package's exact version"


NAME_VERSION_RULES = [(e["id"], rx) for e in ENTRIES for rx in e.get("sonames", []) if "(?P<v>" in rx]


@pytest.mark.parametrize(("cid", "rx"), NAME_VERSION_RULES, ids=[f"{c}:{r}" for c, r in NAME_VERSION_RULES])
def test_file_name_version_rule_holds_on_every_release(cid: str, rx: str) -> None:
    """A mined rule that reads the version from a library's file name (``libpcap.so.1.10.5``) gives
    the package's upstream version on every file it matches, in the mining releases *and* in the
    held-out one, and ``identify()`` reports that version from the file name alone."""
    import re

    if not any(ROOT.glob("corpus-*.json")):
        pytest.skip(f"no mined corpus at {ROOT} (python -m ecuscan.mining fetch)")
    compiled = re.compile(rx)
    seen: dict[str, int] = {}
    for release, version, path in _files(cid):
        m = compiled.search(path.name)
        if m is None:
            continue
        assert m.group("v") == version, f"{path}: the name says {m.group('v')}, the package {version}"
        seen[release] = seen.get(release, 0) + 1
        if seen[release] == 1:
            comps = identify(load(path.read_bytes(), str(path)), CAT)
            assert version in {c.version for c in comps if c.id == cid and c.relation is Relation.CONTAINS}, path
    if not seen:
        pytest.skip(f"no file of {cid} matches {rx} in the mined corpus")
    assert {"bullseye", "trixie"} <= set(seen), f"{cid}: {rx} proven in {sorted(seen)} only"
