"""Every mined catalog entry (``ecuscan/data/catalog/linux-*.yaml``) on the real packages it was mined from.

Generated over the signature miner's corpus (``python -m ecuscan.mining fetch``: Debian bullseye,
trixie and sid, armhf and arm64, under ``~/.cache/ecuscan/catalog`` or ``$ECUSCAN_MINED_CORPUS``):
for each entry, the files of its project's packages are identified one at a time and at least one
must be found with the package's exact upstream version (an entry with version rules) or present
(an entry with presence rules only), in each mining release (bullseye, trixie) that has files of
it. The held-out release (sid) is measured, not asserted per entry: its figures are in
docs/accuracy.md. Skipped with a reason when the corpus is absent.
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
DATA = Path(__file__).resolve().parents[2] / "ecuscan" / "data" / "catalog"
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


@pytest.mark.parametrize("entry", ENTRIES, ids=[e["id"] for e in ENTRIES])
def test_mined_entry_on_real_packages(entry: dict) -> None:  # type: ignore[type-arg]
    if not any(ROOT.glob("corpus-*.json")):
        pytest.skip(f"no mined corpus at {ROOT} (python -m ecuscan.mining fetch)")
    versioned = bool(entry.get("patterns") or entry.get("version_hints"))
    by_release: dict[str, list[bool]] = {}
    for release, version, path in _files(entry["id"]):
        if len(by_release.get(release, [])) >= 40 or any(by_release.get(release, [])):
            continue
        comps = identify(load(path.read_bytes(), str(path)), CAT)
        got = {c.version for c in comps if c.id == entry["id"] and c.relation is Relation.CONTAINS}
        by_release.setdefault(release, []).append(version in got if versioned else bool(got))
    if not by_release:
        pytest.skip(f"no files of {entry['id']} in the mined corpus")
    from ecuscan.mining.corpus import MINING_RELEASES

    failed = sorted(r for r, oks in by_release.items() if r in MINING_RELEASES and not any(oks))
    assert not failed, f"{entry['id']}: no file found {'at its version' if versioned else 'present'} in {failed}"
