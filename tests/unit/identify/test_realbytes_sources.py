"""Hand-written catalog entries on images built from the projects' real sources (barebox, uC/OS-II/-III).

``tests/fixtures/realbytes/sources.yaml`` names the public repository, the release tags and the
project's own files that carry its version or identity; ``tests/fixtures/realbytes/build.py`` compiles
them with the MCU image builder (arm-none-eabi-gcc, Cortex-M4) into an ELF with symbols and a stripped
raw flash image under ``~/.cache/ecuscan/coverage/rtos``. Each image must give its entry at the tag's
version (or without one where the project keeps its release only as an integer: ``presence_only``),
in each form the recipe says the evidence survives in (``found_in``, default both), and no other
entry of these recipes. Skips with the reason when the compiler or the sources are absent
(``python -m tests.fixtures.realbytes.build --clone``).
"""

from __future__ import annotations

import shutil
from typing import Any

import pytest

from ecuscan.catalog import load_catalog
from tests.fixtures.mcu import build as mcu
from tests.fixtures.realbytes import build

from ._built import versions_by_entry

PROJECTS = build.recipes()
CASES = [(p, t) for p in PROJECTS for t in p["tags"]]
CATALOG = load_catalog()
TESTED = frozenset(p["id"] for p in PROJECTS)


def test_recipes_name_catalog_entries() -> None:
    for p in PROJECTS:
        assert CATALOG.get(p["id"]) is not None, p["id"]
        assert len(p["tags"]) >= 2 or p.get("single_release"), f"{p['id']}: at least two releases"
        for other in p.get("also_contains", []):
            assert CATALOG.get(other) is not None, other


@pytest.mark.parametrize("case", CASES, ids=[f"{p['id']}-{mcu.image_key(t)}" for p, t in CASES])
@pytest.mark.parametrize("form", ["elf", "bin"])
def test_entry_on_source_build(case: tuple[dict[str, Any], dict[str, Any]], form: str) -> None:
    project, tag = case
    if shutil.which(mcu.CC) is None:
        pytest.skip(f"{mcu.CC} not installed: the images are compiled from the projects' sources")
    try:
        p, t = build.resolved(project, tag)
        meta = mcu.ensure_built(p, t, cache=build.CACHE)
    except mcu.Unavailable as exc:
        pytest.skip(str(exc))
    found = versions_by_entry(meta[form])
    cid = project["id"]
    if form in tag.get("found_in", ["elf", "bin"]):
        for other in project.get("also_contains", []):
            assert other in found, f"{meta[form]}: {other} not found ({sorted(found)})"
    # no entry of these recipes fires on another project's image
    assert not (set(found) & TESTED) - {cid}, f"{meta[form]}: {sorted(found)}"
    if form not in tag.get("found_in", ["elf", "bin"]):
        # documented as unidentifiable in this form: nothing of this entry, and no wrong version
        assert found.get(cid, set()) <= {None}, f"{meta[form]}: {found.get(cid)}"
        return
    assert cid in found, f"{meta[form]}: {cid} not found ({sorted(found)})"
    if project.get("presence_only"):
        assert found[cid] == {None}, f"{meta[form]}: {found[cid]} ({project['presence_only']})"
    else:
        assert found[cid] == {str(tag["version"])}, f"{meta[form]}: {found[cid]} vs {tag['version']}"
