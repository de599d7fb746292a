"""False components of an ordinary Linux host's library directory, fixed at the mechanism:
documentation recognised by content, GNU ld scripts as text that references libraries, static
archives as containers of objects, D-Bus names as evidence of use, not of containment."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from ecuscan.catalog import load_catalog
from ecuscan.model import Relation, ScanResult
from ecuscan.scan.analysis import analyze_bytes
from ecuscan.scan.options import ScanOptions

POD = b"""=encoding utf-8

=head1 NAME

Net::Example - Perl bindings for a TLS library

=head1 VERSIONS

Tested with OpenSSL 1.0.0d 8 Feb 2011 and OpenSSL 1.1.0g  2 Nov 2017; LibreSSL 2.5.0.

=over

=item new()

Creates a context.

=back

=cut
"""

LD_SCRIPT = b"""/* GNU ld script
   Use the shared library, but some functions are only in
   the static library, so try that secondarily.  */
OUTPUT_FORMAT(elf64-x86-64)
GROUP ( /lib/x86_64-linux-gnu/libc.so.6 /usr/lib/x86_64-linux-gnu/libc_nonshared.a  AS_NEEDED ( """ \
    b"""/lib64/ld-linux-x86-64.so.2 ) )
"""


def _scan(data: bytes, path: str) -> list[ScanResult]:
    return analyze_bytes(data, path, catalog=load_catalog(), options=ScanOptions())


def _contained(results: list[ScanResult]) -> set[str]:
    return {c.id for r in results for c in r.components if c.relation is Relation.CONTAINS}


def test_pod_documentation_in_a_library_directory_contains_nothing() -> None:
    path = "usr/lib/x86_64-linux-gnu/perl5/5.36/Net/Example.pod"
    (res,) = _scan(POD, path)
    assert res.components == ()
    assert res.metadata.get("content", "").startswith("documentation")
    # the same text without document markup is still analysed (a version string in plain text is evidence)
    plain = POD.replace(b"=", b"")
    assert "openssl" in _contained(_scan(plain, "usr/lib/x86_64-linux-gnu/notes.txt"))


def test_gnu_ld_script_named_libc_so_is_text_that_references_libraries() -> None:
    (res,) = _scan(LD_SCRIPT, "usr/lib/x86_64-linux-gnu/libc.so")
    assert not [c for c in res.components if c.relation is Relation.CONTAINS], res.components
    assert {c.id for c in res.components if c.relation is Relation.USES} == {"glibc"}
    assert "libc.so.6" in res.metadata["content"]


def _cc(tmp: Path, name: str, source: str) -> Path:
    src = tmp / f"{name}.c"
    src.write_text(source)
    out = tmp / f"{name}.o"
    subprocess.run(["gcc", "-c", "-O0", "-o", str(out), str(src)], check=True, capture_output=True)
    return out


needs_cc = pytest.mark.skipif(shutil.which("gcc") is None or shutil.which("ar") is None,
                              reason="gcc and ar (binutils) are needed to build the test objects")


@needs_cc
def test_static_archive_of_glibc_like_objects_has_no_musl(tmp_path: Path) -> None:
    # getusershell's default list is the same in every libc; it proves no particular one
    shell = _cc(tmp_path, "getusershell", 'const char *const shells[] = {"/bin/sh", "/bin/csh", 0};\n'
                                         'const char *const *f(void) { return shells; }\n')
    other = _cc(tmp_path, "other", "int g(int x) { return x * 3; }\n")
    lib = tmp_path / "libc.a"
    subprocess.run(["ar", "rcs", str(lib), str(shell), str(other)], check=True)
    results = _scan(lib.read_bytes(), "usr/lib/x86_64-linux-gnu/libc.a")
    assert results[0].format.value == "archive" and int(results[0].metadata["members"]) == 2
    assert "musl" not in {c.id for r in results for c in r.components}


@needs_cc
def test_dbus_name_of_a_service_is_use_not_containment(tmp_path: Path) -> None:
    obj = _cc(tmp_path, "backend", 'const char *bus(void) { return "org.freedesktop.Avahi"; }\n'
                                   'const char *iface(void) { return "org.freedesktop.Avahi.Server"; }\n')
    so = tmp_path / "libprintbackend-cups.so"
    subprocess.run(["gcc", "-shared", "-o", str(so), str(obj)], check=True, capture_output=True)
    (res,) = _scan(so.read_bytes(), "usr/lib/x86_64-linux-gnu/gtk-3.0/3.0.0/printbackends/" + so.name)
    assert "avahi" not in _contained([res])
    assert "avahi" in {c.id for c in res.components if c.relation is Relation.USES}


HOST_LIB = Path("/usr/lib/x86_64-linux-gnu")


@pytest.mark.skipif(not (HOST_LIB / "libc.so").is_file(), reason="not a glibc x86-64 Debian host")
def test_this_hosts_libc_so_and_libc_a_hold_no_musl() -> None:
    for name in ("libc.so", "libc.a"):
        f = HOST_LIB / name
        if f.is_file() and f.stat().st_size < 64 * 1024 * 1024:
            assert "musl" not in _contained(_scan(f.read_bytes(), str(f))), name
