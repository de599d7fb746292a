"""Version evidence beyond one contiguous string, on real ELF files built here and real packages.

* GCC's runtime: a shared object that links libstdc++ and libgcc statically holds their code; the
  ``.comment`` banner of the compiler that built it names their release.
* The same-tree rule for declared programs and modules: a program of a project that names no
  version itself takes the one version the rest of the tree names for that project; a file that is
  not one of the project's declared programs, or a text file with a program's name, does not.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from ecuscan.catalog import Catalog, load_catalog, parse_entries
from ecuscan.errors import CatalogError
from ecuscan.formats import load
from ecuscan.identify import identify
from ecuscan.identify.signatures import compile_signatures
from ecuscan.model import Component, EvidenceMethod, Relation, ScanResult
from ecuscan.scan.options import ScanOptions
from ecuscan.scan.pipeline import Scanner

CAT = load_catalog()


def _gcc_version() -> str:
    return subprocess.run(["gcc", "-dumpfullversion"], capture_output=True, text=True, check=True).stdout.strip()


@pytest.mark.skipif(shutil.which("g++") is None, reason="g++ builds the C++ shared object")
def test_gcc_runtime_release_from_comment_banner(tmp_path: Path) -> None:
    src = tmp_path / "greet.cc"
    src.write_text('#include <iostream>\n#include <stdexcept>\n'
                   'extern "C" int greet(int n) { try { if (n < 0) throw std::runtime_error("neg");'
                   ' std::cout << "hello " << n << std::endl; } catch (const std::exception &e) { return -1; }'
                   ' return n; }\n')
    out = tmp_path / "libgreet.so"
    subprocess.run(["g++", "-shared", "-fPIC", "-O1", "-static-libstdc++", "-static-libgcc", "-o", str(out), str(src)],
                   check=True, capture_output=True, timeout=300)
    comps = identify(load(out.read_bytes(), str(out)), CAT)
    got = {c.version for c in comps if c.id == "libstdcxx" and c.relation is Relation.CONTAINS}
    assert _gcc_version() in got
    ev = next(c for c in comps if c.id == "libstdcxx" and c.version == _gcc_version()).evidence
    assert any(e.detail == "libstdcxx:gcc-comment-banner" for e in ev)
    # control: a program that only links libstdc++ dynamically holds none of its code
    dyn = tmp_path / "libgreet-dyn.so"
    subprocess.run(["g++", "-shared", "-fPIC", "-O1", "-o", str(dyn), str(src)], check=True, capture_output=True,
                   timeout=300)
    comps = identify(load(dyn.read_bytes(), str(dyn)), CAT)
    assert not [c for c in comps if c.id == "libstdcxx" and c.relation is Relation.CONTAINS]


@pytest.mark.skipif(shutil.which("gcc") is None, reason="gcc builds the programs")
def test_declared_programs_and_modules_take_the_trees_version(tmp_path: Path) -> None:
    root = tmp_path / "rootfs"
    (root / "usr/bin").mkdir(parents=True)
    (root / "usr/lib/lighttpd").mkdir(parents=True)

    def cc(out: Path, body: str, shared: bool = False) -> None:
        c = tmp_path / (out.name + ".c")
        c.write_text(body)
        flags = ["-shared", "-fPIC"] if shared else []
        subprocess.run(["gcc", *flags, "-O1", "-o", str(out), str(c)], check=True, capture_output=True, timeout=120)

    # lighttpd itself names its version; its module and its angel program do not
    cc(root / "usr/bin/lighttpd", 'const char *v = "lighttpd/1.4.79";\nint main(void) { return v[0] == 0; }\n')
    cc(root / "usr/lib/lighttpd/mod_cgi.so", "int mod_cgi_plugin_init(void *p) { return p != 0; }\n", shared=True)
    cc(root / "usr/bin/lighttpd-angel", "int main(int c, char **v) { return c > 1 && v[1][0] == 'x'; }\n")
    # not lighttpd's: a program of another name, and a text file named like one of its programs
    cc(root / "usr/bin/unrelated", "int main(void) { return 0; }\n")
    (root / "usr/lib/lighttpd/notes").mkdir()
    (root / "usr/lib/lighttpd/notes/lighttpd-angel").write_text("#!/bin/sh\necho angel\n")
    results = {Path(o.path).relative_to(root).as_posix(): o
               for o in Scanner(None, options=ScanOptions(use_cache=False, package_metadata=False)).scan_paths([root])
               if isinstance(o, ScanResult) and o.parent is None and o.path != str(root)}

    def light(rel: str) -> set[str | None]:
        return {c.version for c in results[rel].components if c.id == "lighttpd" and c.relation is Relation.CONTAINS}

    assert light("usr/bin/lighttpd") == {"1.4.79"}
    for rel in ("usr/lib/lighttpd/mod_cgi.so", "usr/bin/lighttpd-angel"):
        assert light(rel) == {"1.4.79"}, rel
        ev = next(c for c in results[rel].components if c.id == "lighttpd").evidence
        assert ev[-1].method is EvidenceMethod.SAME_TREE and "usr/bin/lighttpd" in ev[-1].text
    assert light("usr/bin/unrelated") == set()
    assert light("usr/lib/lighttpd/notes/lighttpd-angel") == set()
    # alone, the module says no lighttpd version (its plugin-init marker proves presence only)
    mod = root / "usr/lib/lighttpd/mod_cgi.so"
    assert {c.version for c in identify(load(mod.read_bytes(), str(mod)), CAT) if c.id == "lighttpd"} <= {None}


# --- engine limits: overlapping anchors, versions written in parts --------------------------------

DEV_CORPUS = Path.home() / ".cache/ecuscan/dev-corpus"
MINED = Path.home() / ".cache/ecuscan/catalog"


def _test_catalog(*entries: dict) -> Catalog:  # type: ignore[type-arg]
    return Catalog(parse_entries({"components": [{"purl": f"pkg:generic/{e['id']}", **e} for e in entries]},
                                 "test"))


def _versions(comps: tuple[Component, ...]) -> dict[str, set[str | None]]:
    out: dict[str, set[str | None]] = {}
    for c in comps:
        if c.relation is Relation.CONTAINS:
            out.setdefault(c.id, set()).add(c.version)
    return out


def test_overlapping_anchors_each_run_their_rules() -> None:
    """Real BusyBox bytes: ``syslogd started: BusyBox v1.37.0``. Each rule below is keyed by an anchor
    that another anchor at the same place hides from a plain left-to-right search: one inside it, one
    that is its prefix (same start), markers that overlap. Every one must still be found."""
    path = DEV_CORPUS / "root/arm64/busybox-static/usr/bin/busybox"
    if not path.is_file():
        pytest.skip(f"development corpus not present ({path})")
    data = path.read_bytes()
    at = data.find(b"syslogd started: BusyBox v")
    assert at >= 0
    want = re.match(rb"syslogd started: BusyBox v(\d+\.\d+\.\d+)", data[at:at + 64])
    assert want is not None
    version = want.group(1).decode()
    cat = _test_catalog(
        {"id": "outer", "patterns": [r"syslogd started: BusyBox v(?P<v>\d+\.\d+\.\d+)"]},
        {"id": "inside", "patterns": [r"started: BusyBox v(?P<v>\d+\.\d+\.\d+)"]},
        {"id": "prefix", "patterns": [r"syslogd start(?:ed)?: BusyBox v(?P<v>\d+\.\d+\.\d+)"]},
        {"id": "mark-a", "markers": ["syslogd started"]},
        {"id": "mark-b", "markers": ["started: BusyBox v"]},
    )
    # the slice of real bytes around the string, so no other occurrence of an anchor helps
    piece = data[max(0, at - 300): at + 300]
    got = _versions(identify(load(piece, "busybox-piece.bin"), cat))
    assert got.get("outer") == got.get("inside") == got.get("prefix") == {version}
    assert got.get("mark-a") == got.get("mark-b") == {None}


def test_version_in_parts_from_real_flatc() -> None:
    """flatc writes FlatBuffers' version with underscores (``Constants.FLATBUFFERS_23_5_26()``): a
    pattern reads it in parts ``v1``..``v3``, joined with dots, found without any ``digit.digit``."""
    files = sorted(MINED.glob("root/*/flatbuffers-compiler/usr/bin/flatc"))
    if not files:
        pytest.skip(f"the miner's corpus has no flatc ({MINED}; python -m ecuscan.mining fetch)")
    cat = _test_catalog({"id": "fb", "patterns": [r"Constants\.FLATBUFFERS_(?P<v1>\d+)_(?P<v2>\d+)_(?P<v3>\d+)\(\)"]})
    for path in files:
        data = path.read_bytes()
        raw = re.search(rb"Constants\.FLATBUFFERS_(\d+)_(\d+)_(\d+)\(\)", data)
        assert raw is not None
        want = ".".join(str(int(g)) for g in raw.groups())
        comps = identify(load(data, str(path)), cat)
        assert _versions(comps) == {"fb": {want}}, path
        ev = next(c for c in comps if c.id == "fb").evidence
        assert ev[0].method is EvidenceMethod.VERSION_STRING and "FLATBUFFERS_" in ev[0].text
    # the same bytes without the pattern's literal give nothing
    cat2 = _test_catalog({"id": "fb", "patterns": [r"Constants\.FLATBUFFERZ_(?P<v1>\d+)_(?P<v2>\d+)\(\)"]})
    assert not _versions(identify(load(files[0].read_bytes(), str(files[0])), cat2))


def test_version_parts_must_be_named_in_order() -> None:
    with pytest.raises(CatalogError, match="parts"):
        compile_signatures(_test_catalog({"id": "x", "patterns": [r"abc(?P<v2>\d+)_(?P<v1>\d+)"]}))
    with pytest.raises(CatalogError, match="no \\(\\?P<v>"):
        compile_signatures(_test_catalog({"id": "y", "patterns": [r"abc(?P<w>\d+)"]}))
