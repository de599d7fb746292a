"""Precision guards: text that names a product and a version without holding its code.

* a documentation file (README, changelog) in a tree is not identified;
* a string table naming another project (a program quoting the version of a runtime it loads,
  an imported symbol name) is a use, not contained code;
* a CVE description inside an image (a vulnerability feed on the device, an advisory in a help
  text) never becomes a CONTAINS component.

Each case has a control: the same product string standing alone is found, so the guard is what
makes the difference.
"""

from __future__ import annotations

from pathlib import Path

from ecuscan.catalog import load_catalog
from ecuscan.identify import identify
from ecuscan.model import Image, ImageFormat, Relation, ScanResult
from ecuscan.scan.options import ScanOptions
from ecuscan.scan.pipeline import Scanner

CAT = load_catalog()

OPENSSL_BANNER = b"OpenSSL 1.1.1k  25 Mar 2021"
#: A mined version string (Lua's own banner, ``lua:pattern``) and a hand one (OpenSSL's).
LUA_BANNER = b"$LuaVersion: Lua 5.3.6  Copyright (C) 1994-2020 Lua.org, PUC-Rio $"


def _raw(blob: bytes, path: str = "fw.bin") -> Image:
    return Image(path=path, format=ImageFormat.RAW, data=b"\x13\x37" * 300 + blob + b"\xff" * 300)


def _contains(comps: tuple, cid: str) -> set:  # type: ignore[type-arg]
    return {c.version for c in comps if c.id == cid and c.relation is Relation.CONTAINS}


def test_control_banners_alone_are_found() -> None:
    assert "1.1.1k" in _contains(identify(_raw(b"\x00" + OPENSSL_BANNER + b"\x00"), CAT), "openssl")
    assert "5.3.6" in _contains(identify(_raw(b"\x00" + LUA_BANNER + b"\x00"), CAT), "lua")


def test_cve_description_inside_an_image_is_no_component() -> None:
    feed = (b"\x00CVE-2021-3711: In order to decrypt SM2 encrypted data an application is expected to call "
            b"the API function EVP_PKEY_decrypt(). Fixed in " + OPENSSL_BANNER + b" (Affected 1.1.1-1.1.1k).\x00"
            b"CVE-2022-28805: singlevar in lparser.c in " + LUA_BANNER + b" lacks a certain luaK_exp2anyreg"
            b" call, leading to a heap-based buffer over-read that might affect a system that compiles"
            b" untrusted Lua code.\x00"
            b"libpcap before 1.10.2 and tcpdump version 4.99.1 allows a buffer overflow in the CAN printer\x00")
    comps = identify(_raw(feed), CAT)
    for cid in ("openssl", "lua", "tcpdump", "libpcap"):
        assert not _contains(comps, cid), (cid, _contains(comps, cid))


def test_runtime_version_quoted_by_a_program_that_loads_it_is_a_use() -> None:
    # a program embedding Lua through liblua quotes LUA_COPYRIGHT in its --version text
    data = b"\x00" + LUA_BANNER + b"\x00"
    img = Image(path="/usr/bin/some-tool", format=ImageFormat.ELF, data=data, needed=("liblua5.3.so.0",))
    lua = [c for c in identify(img, CAT) if c.id == "lua"]
    assert lua and all(c.relation is Relation.USES for c in lua)
    # control: Lua's own interpreter (a declared program) holding the same text contains it
    own = Image(path="/usr/bin/lua5.3", format=ImageFormat.ELF, data=data, needed=("liblua5.3.so.0",))
    assert "5.3.6" in _contains(identify(own, CAT), "lua")


def test_documentation_file_in_a_tree_is_no_component(tmp_path: Path) -> None:
    doc = tmp_path / "usr" / "share" / "doc" / "tcpdump"
    doc.mkdir(parents=True)
    text = (b"tcpdump 4.99.5 release notes\n" + LUA_BANNER + b"\n" + OPENSSL_BANNER + b"\n")
    (doc / "README").write_bytes(text)
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc" / "banner").write_bytes(b"\x00" + OPENSSL_BANNER + b"\x00")
    results = [o for o in Scanner(None, options=ScanOptions(use_cache=False)).scan_paths([tmp_path])
               if isinstance(o, ScanResult)]
    by_name = {Path(r.path).name: r for r in results}
    assert not [c for c in by_name["README"].components if c.relation is Relation.CONTAINS]
    assert "1.1.1k" in {c.version for c in by_name["banner"].components if c.id == "openssl"}
