"""MCU/RTOS catalog entries on Cortex-M images compiled from the projects' own sources.

``tests/fixtures/mcu/recipes.yaml`` names, per project, the public repository, release tags (one the
entry was written from, the others held out), the project's files that carry its version or
identity, and the flags; ``tests/fixtures/mcu/build.py`` compiles them with arm-none-eabi-gcc into an
ELF that keeps its symbols and a stripped raw flash image. Each image must give its project at the
tag's version (or, for the presence-only entries, without one), in both forms where the evidence is
in the bytes, and none of these entries may fire on another project's image or on the development
corpus's bare-metal images. Skips with the reason when the compiler or a project's sources are absent
(``python tests/fixtures/mcu/build.py --clone`` fetches them into ``~/.cache/ecuscan/rtos``).
"""

from __future__ import annotations

import importlib.util
import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from ecuscan.catalog import load_catalog
from ecuscan.identify import identify
from ecuscan.model import Image, ImageFormat, Relation, Segment

from ._built import versions_by_entry

_BUILD_PY = Path(__file__).resolve().parents[2] / "fixtures" / "mcu" / "build.py"
_spec = importlib.util.spec_from_file_location("ecuscan_mcu_build", _BUILD_PY)
assert _spec is not None and _spec.loader is not None
build = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(build)

PROJECTS: list[dict[str, Any]] = build.recipes()
CASES = [(p, t) for p in PROJECTS for t in p["tags"]]
#: every catalog id a recipe tests: none of them may be reported on another project's image
TESTED_IDS = frozenset(p["id"] for p in PROJECTS)
CATALOG = load_catalog()
DEV_FW = Path(os.environ.get("ECUSCAN_DEV_CORPUS", Path.home() / ".cache/ecuscan/dev-corpus")) / "fw"


def _case_id(case: tuple[dict[str, Any], dict[str, Any]]) -> str:
    return f"{case[0]['id']}-{build.image_key(case[1])}"


def _image(project: dict[str, Any], tag: dict[str, Any]) -> dict[str, Any]:
    if shutil.which(build.CC) is None:
        pytest.skip(f"{build.CC} not installed: the images are compiled from the projects' sources")
    try:
        meta: dict[str, Any] = build.ensure_built(project, tag)
    except build.Unavailable as exc:
        pytest.skip(str(exc))
    return meta


def test_recipes_name_catalog_entries_with_identity() -> None:
    for p in PROJECTS:
        entry = CATALOG.get(p["id"])
        assert entry is not None, f"recipe {p['id']} has no catalog entry"
        assert entry.purl().startswith("pkg:") and entry.cpe(), p["id"]
        roles = [t.get("role", "heldout") for t in p["tags"]]
        assert roles.count("signature") >= 1 and roles.count("heldout") >= 1, \
            f"{p['id']}: a signature tag and a held-out one"


@pytest.mark.parametrize("case", CASES, ids=[_case_id(c) for c in CASES])
@pytest.mark.parametrize("form", ["elf", "bin"])
def test_version_from_source_build(case: tuple[dict[str, Any], dict[str, Any]], form: str) -> None:
    project, tag = case
    meta = _image(project, tag)
    cid, want = project["id"], meta["version"]
    found = versions_by_entry(meta[form])
    entry = CATALOG.get(cid)
    assert entry is not None
    if want is None and not (entry.markers or entry.patterns) and form == "bin":
        # symbol-only entries: a stripped raw image keeps nothing of them, and must not guess
        assert cid not in found, found
        return
    assert cid in found, f"{cid} {tag['tag']} ({form}): not found; got {sorted(found)}"
    # exactly the tag's version (or none for a presence-only entry), never another one
    assert found[cid] == {want}, f"{cid} {tag['tag']} ({form}): {found[cid]} != {want}"


@pytest.mark.parametrize("case", CASES, ids=[_case_id(c) for c in CASES])
def test_no_entry_fires_on_another_projects_image(case: tuple[dict[str, Any], dict[str, Any]]) -> None:
    project, tag = case
    meta = _image(project, tag)
    for form in ("elf", "bin"):
        stray = (set(versions_by_entry(meta[form])) & TESTED_IDS) - {project["id"]}
        assert not stray, f"{project['id']} {tag['tag']} ({form}): {sorted(stray)} reported"


def test_no_entry_fires_on_dev_corpus_bare_metal_images() -> None:
    images = sorted(p for p in DEV_FW.glob("*") if p.suffix in (".elf", ".bin", ".hex", ".srec"))
    if not images:
        pytest.skip(f"no development-corpus bare-metal images in {DEV_FW}")
    for img in images:
        stray = set(versions_by_entry(str(img))) & TESTED_IDS
        assert not stray, f"{img.name}: {sorted(stray)}"


@pytest.mark.parametrize("text,cid,want", [
    # `git describe` forms the projects' build systems produce besides a release tag (tags of the
    # public repositories: TF-Mv2.1.0-RC2, 2024.10-devel, 2024.10.1-RC1, Contiki 2.6-rc0)
    (b"\x1b[1;34mBooting TF-M v2.1.0+g1a2b3c4\x1b[0m\r\n", "tf-m", "2.1.0"),
    (b"\x1b[1;34mBooting TF-M v2.1.10-RC1\x1b[0m\r\n", "tf-m", None),
    (b"main(): This is RIOT! (Version: 2024.10-12-gabcd)", "riot", "2024.10"),
    (b"main(): This is RIOT! (Version: 2024.10-devel-12-gabcd)", "riot", None),
    (b"main(): This is RIOT! (Version: 2024.10.1-RC1)", "riot", None),
    (b"Contiki-2.7-512-gabcdef1", "contiki", "2.7"),
    (b"Contiki-2.6-rc0", "contiki", None),
    (b"Starting Contiki-NG-develop/v4.9-3-gabcdef1\n", "contiki-ng", None),
])
def test_pre_release_describe_forms_give_no_release_version(text: bytes, cid: str, want: str | None) -> None:
    data = b"\x00" * 64 + text + b"\x00" * 64
    img = Image(path="app.bin", format=ImageFormat.RAW, data=data, segments=(Segment("flash", 0, 0, len(data)),))
    versions = {c.version for c in identify(img, CATALOG) if c.id == cid and c.relation is Relation.CONTAINS}
    assert versions <= {want}, versions
    if want is not None:
        assert versions == {want}
