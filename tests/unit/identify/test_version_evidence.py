"""Version evidence beyond one contiguous string, on real ELF files built here and real packages.

* GCC's runtime: a shared object that links libstdc++ and libgcc statically holds their code; the
  ``.comment`` banner of the compiler that built it names their release.
* The same-tree rule for declared programs and modules: a program of a project that names no
  version itself takes the one version the rest of the tree names for that project; a file that is
  not one of the project's declared programs, or a text file with a program's name, does not.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from ecuscan.catalog import load_catalog
from ecuscan.formats import load
from ecuscan.identify import identify
from ecuscan.model import EvidenceMethod, Relation, ScanResult
from ecuscan.scanner import Scanner, ScanOptions

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
