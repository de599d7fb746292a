"""End to end on a real ELF built here with the system gcc: every provenance kind, exact values."""

from __future__ import annotations

import datetime as dt
import hashlib
import shutil
import subprocess
from pathlib import Path

import pytest

from ecuscan.formats import load
from ecuscan.model import Image, ImageFormat
from ecuscan.provenance import extract, segment_hashes

pytestmark = pytest.mark.skipif(shutil.which("gcc") is None, reason="needs the system gcc")

EPOCH = 1795810443  # SOURCE_DATE_EPOCH: fixes __DATE__/__TIME__ (2026-11-27 20:14:03 UTC)
BUILD_ID = "c0ffee00" + hashlib.sha1(b"ecuscan provenance test").hexdigest()[8:]
PREFIX = "/home/alice/ecu-bcm"


def _c_bytes(b: bytes) -> str:
    return ",".join(f"0x{x:02x}" for x in b)


def _c_string(b: bytes) -> str:
    return "".join(f'"{line}\\n"\n' for line in b.decode().splitlines())


@pytest.fixture(scope="module")
def program(tmp_path_factory: pytest.TempPathFactory, pki) -> Path:
    work = tmp_path_factory.mktemp("gcc")
    src = work / "src" / "main.c"
    src.parent.mkdir()
    src.write_text(f"""
#include <assert.h>
#include <stdio.h>
__attribute__((used)) static const char stamp[] = __DATE__ " " __TIME__;
__attribute__((used)) const char ca_pem[] =
{_c_string(pki.ca_pem)};
__attribute__((used)) const unsigned char leaf_der[] = {{{_c_bytes(pki.leaf_der)}}};
int main(int argc, char **argv) {{
    assert(argc > 0 && argv != 0);
    printf("%s %s\\n", stamp, __FILE__);
    return ca_pem[argc] + leaf_der[argc];
}}
""")
    out = work / "bcm_app"
    env = {"PATH": "/usr/bin:/bin", "SOURCE_DATE_EPOCH": str(EPOCH)}
    subprocess.run(["gcc", "-g", "-O1", f"-ffile-prefix-map={work}={PREFIX}", f"-Wl,--build-id=0x{BUILD_ID}",
                    "-o", str(out), str(src)], check=True, cwd=work, env=env, capture_output=True)
    return out


def _gcc_version() -> str:
    return subprocess.run(["gcc", "-dumpfullversion"], check=True, capture_output=True, text=True).stdout.strip()


def test_elf_built_here(program: Path, pki) -> None:
    data = program.read_bytes()
    img = load(data, str(program))
    prov = extract(img)
    version = _gcc_version()

    assert prov.build_id == BUILD_ID
    assert prov.sha256 == hashlib.sha256(data).hexdigest() and prov.size == len(data)
    assert prov.has_dwarf is True and prov.stripped is False

    by_source = {t.source: t for t in prov.toolchains}
    assert by_source["comment"].name == "GCC" and by_source["comment"].version == version
    assert by_source["comment"].text.startswith("GCC: (")
    producer = by_source["dwarf-producer"]
    assert (producer.name, producer.version) == ("GCC", version)
    assert "-O1" in producer.flags and "-g" in producer.flags

    assert f"{PREFIX}/src/main.c" in prov.build_paths  # DW_AT_name and __FILE__ in the assert string
    assert PREFIX in prov.build_paths  # DW_AT_comp_dir
    assert "alice" in prov.users

    assert "2026-11-27T20:14:03" in prov.timestamps
    assert dt.datetime.fromtimestamp(EPOCH, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S") == "2026-11-27T20:14:03"

    kinds = {(c.kind, c.encoding): c for c in prov.certificates}
    pem = kinds[("x509-certificate", "pem")]
    der = kinds[("x509-certificate", "der")]
    assert pem.sha256 == hashlib.sha256(pki.ca_der).hexdigest() and pem.subject == "CN=ECU Root CA,O=ACME Electronics"
    assert data[pem.offset:pem.offset + 27] == b"-----BEGIN CERTIFICATE-----"
    assert der.sha256 == hashlib.sha256(pki.leaf_der).hexdigest() and der.key_type == "EC-P256"
    assert data[der.offset:der.offset + der.size] == pki.leaf_der

    hashed = segment_hashes(img)
    assert len(hashed) == len(img.segments) and any(s.sha256 for s in hashed)
    for s in hashed:
        if s.sha256:
            assert s.sha256 == hashlib.sha256(data[s.offset:s.offset + s.size]).hexdigest()


def test_same_bytes_without_elf_structure(program: Path) -> None:
    """Scanned as a raw dump, the build-id is still found by its note layout, and the banner by its text."""
    data = program.read_bytes()
    prov = extract(Image(path="dump.bin", format=ImageFormat.RAW, data=data))
    assert prov.build_id == BUILD_ID
    assert [(t.name, t.version, t.source) for t in prov.toolchains] == [("GCC", _gcc_version(), "string")]
    assert f"{PREFIX}/src/main.c" in prov.build_paths and "alice" in prov.users
    assert prov.stripped is None and prov.has_dwarf is False
