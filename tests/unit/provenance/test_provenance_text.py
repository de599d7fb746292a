"""Toolchain banners, build paths, users, hosts, timestamps, build-id and segment hashes."""

from __future__ import annotations

import hashlib
from dataclasses import replace

import pytest

from ecuscan.limits import DEFAULT_LIMITS
from ecuscan.model import DwarfUnit, Image, ImageFormat, Segment, SegmentKind
from ecuscan.provenance import extract, segment_hashes
from ecuscan.provenance.toolchain import parse_banner, split_flags


def _img(data: bytes, **kw) -> Image:
    return Image(path="t.bin", format=ImageFormat.RAW, data=data, **kw)


@pytest.mark.parametrize(("banner", "name", "version"), [
    ("GCC: (15:12.2.rel1-1) 12.2.1 20221205", "GCC", "12.2.1"),
    ("GCC: (GNU Tools for STM32 10.3-2021.10.20211105) 10.3.1 20210824", "GCC", "10.3.1"),
    ("GCC: (HighTec Release HDP-v4.6.6.1-infineon-1.1-a2c3f19) 4.9.4 build on 2019-04-10", "HighTec", "4.6.6.1"),
    ("Ubuntu clang version 14.0.0-1ubuntu1.1", "clang", "14.0.0"),
    ("clang version 17.0.6 (https://github.com/llvm/llvm-project 6009708b4367171ccdbf4b5905cb6a803753fe18)",
     "clang", "17.0.6"),
    ("Component: ARM Compiler 6.16 Tool: armclang [5dfeb700]", "armclang", "6.16"),
    ("Component: Arm Compiler for Embedded 6.19 Tool: armclang [5e73cb00]", "armclang", "6.19"),
    ("Component: ARM Compiler 5.06 update 6 (build 750) Tool: armcc [4d3637]", "armcc", "5.06 update 6"),
    ("ARM C/C++ Compiler, 5.06 update 7 [Build 960]", "armcc", "5.06 update 7"),
    ("IAR ANSI C/C++ Compiler V9.30.1.335/W64 for ARM", "IAR", "9.30.1.335"),
    ("IAR C/C++ Compiler V8.50.1.245 for ARM", "IAR", "8.50.1.245"),
    ("Green Hills Software, MULTI v7.1.4", "Green Hills", "7.1.4"),
    ("TASKING VX-toolset for TriCore: C compiler v6.3r1 Build 19041958", "TASKING", "6.3r1"),
    ("Wind River Diab Compiler 5.9.6.2", "Diab", "5.9.6.2"),
    ("Diab Data, Inc. dcc 5.9.4.8", "Diab", "5.9.4.8"),
    ("CodeWarrior C/C++ Compiler for HC12 Version 5.1 build 13", "CodeWarrior", "5.1 build 13"),
    ("GNU AS 2.40", "GNU as", "2.40"),
])
def test_banners_of_each_vendor(banner, name, version):
    tc = parse_banner(banner, "string")
    assert tc is not None and (tc.name, tc.version) == (name, version)


def test_banner_found_in_bytes_even_in_flash_payloads():
    data = b"\x13\x37" * 500 + b"\0TASKING VX-toolset for TriCore: C compiler v6.3r1 Build 19041958\0" + b"\xff" * 99
    (tc,) = extract(_img(data)).toolchains
    assert (tc.name, tc.version, tc.source) == ("TASKING", "6.3r1", "string")
    assert tc.text == "TASKING VX-toolset for TriCore: C compiler v6.3r1 Build 19041958"


def test_producer_flags_split_and_defines_dropped():
    p = ("GNU C17 12.2.1 20221205 -mcpu=cortex-m4 -mthumb -DSECRET_KEY=0x1234 -I/home/x -D NDEBUG -Og -g "
         "-fdebug-prefix-map=/home/alice/fw=. -g")
    tc = parse_banner(p, "dwarf-producer")
    assert tc is not None and (tc.name, tc.version) == ("GCC", "12.2.1")
    assert tc.flags == ("-mcpu=cortex-m4", "-mthumb", "-Og", "-fdebug-prefix-map=/home/alice/fw=.", "-g")
    assert split_flags("-O2 -Og -O2") == ("-Og", "-O2")  # last of conflicting options wins, as in GCC


def test_toolchains_deduplicated_across_sources():
    comment = "GCC: (Debian 12.2.0-14) 12.2.0"
    prod = "GNU C17 12.2.0 -mtune=generic -march=x86-64 -g -O2"
    units = tuple(DwarfUnit(name=f"/src/f{i}.c", comp_dir="/build/fw", producer=prod) for i in range(50))
    data = b"\0" + comment.encode() + b"\0" + comment.encode() + b"\0"
    tools = extract(_img(data, comments=(comment, comment), dwarf_units=units)).toolchains
    assert [(t.name, t.version, t.source) for t in tools] == [("GCC", "12.2.0", "comment"),
                                                              ("GCC", "12.2.0", "dwarf-producer")]
    assert tools[1].flags == ("-mtune=generic", "-march=x86-64", "-g", "-O2")


def test_build_paths_users_from_dwarf_and_bytes():
    units = (DwarfUnit(name="main.c", comp_dir="/home/alice/work/bcm"),
             DwarfUnit(name="C:\\Users\\Bob Smith\\proj\\can.c", comp_dir="C:\\Users\\Bob Smith\\proj"),
             DwarfUnit(name="relative/x.c", comp_dir=None))
    data = (b"\0assertion failed: len > 0, file /build/jenkins-ecu-42/src/app/uds.c, line 12\0"
            b"/tmp/ccX1.sock\0/tmp/build/x/drv.c\0/usr/lib/libfoo.so\0/usr/src/debug/zlib/inflate.c\0"
            b"D:\\jenkins\\ws\\ecu\\src\\flash.c\0/Users/carol/dev/fw/boot.S\0/root/ecu/out/app.o\0")
    prov = extract(_img(data, dwarf_units=units))
    assert prov.build_paths == (
        "/home/alice/work/bcm", "C:\\Users\\Bob Smith\\proj", "C:\\Users\\Bob Smith\\proj\\can.c",
        "/build/jenkins-ecu-42/src/app/uds.c", "/tmp/build/x/drv.c", "/usr/src/debug/zlib/inflate.c",
        "/Users/carol/dev/fw/boot.S", "/root/ecu/out/app.o", "D:\\jenkins\\ws\\ecu\\src\\flash.c")
    assert prov.users == ("alice", "Bob Smith", "carol", "root")


def test_hosts_and_users_from_banners():
    data = (b"\0Linux version 6.1.55-rt15 (builder@ecu-build-03.acme.local) (aarch64-linux-gnu-gcc 12.2.0) "
            b"#1 SMP PREEMPT_RT Thu Nov 27 20:14:03 UTC 2026\0Compiled by jenkins on ci-runner-7\0"
            b"BUILD_HOST=lab-pc42\0")
    prov = extract(_img(data))
    assert prov.hosts == ("ecu-build-03.acme.local", "ci-runner-7", "lab-pc42")
    assert prov.users == ("builder", "jenkins")
    assert prov.timestamps == ("2026-11-27T20:14:03Z",)


def test_compiler_named_after_compiled_by_is_not_a_user():
    """glibc's banner ("Compiled by GNU CC version 14.2.0.") names a compiler, not a person."""
    data = b"\0Compiled by GNU CC version 14.2.0.\0built on: Sat Oct  3 16:00:50 2026 UTC\0"
    prov = extract(_img(data))
    assert prov.users == () and prov.hosts == ()
    assert prov.timestamps == ("2026-10-03T16:00:50Z",)  # OpenSSL's "built on" line


def test_timestamps_from_date_time_strings_and_headers():
    data = (b"\0\0Nov 27 2026\0\0\0\0" b"20:14:03\0"  # __DATE__ then __TIME__ in adjacent literals
            b"U-Boot 2025.01 (Feb  3 2026 - 07:08:09 +0100)\0"
            b"build date: 2025-12-24\0release 2024-05-06T07:08:09Z\0"
            b"Feb 30 2026\0xNov 27 2026\0")  # not a date; inside a word
    img = _img(data, metadata={"create_date": "27.11.2026", "sw_part_number": "32218172AA",
                               "build_time": "junk", "description": "BCM app, built 2026-11-20 10:00"})
    assert extract(img).timestamps == ("2026-11-27", "2026-11-20T10:00:00", "2026-11-27T20:14:03",
                                       "2026-02-03T07:08:09+01:00", "2025-12-24", "2024-05-06T07:08:09Z")


def test_build_id_from_loader_wins_and_byte_layout_is_found_both_endians():
    desc = bytes(range(1, 21))
    le = bytes([4, 0, 0, 0, 20, 0, 0, 0, 3, 0, 0, 0]) + b"GNU\0" + desc
    be = bytes([0, 0, 0, 4, 0, 0, 0, 20, 0, 0, 0, 3]) + b"GNU\0" + desc[::-1]
    assert extract(_img(b"\xff" * 64 + le)).build_id == desc.hex()
    assert extract(_img(b"\xff" * 64 + be)).build_id == desc[::-1].hex()
    assert extract(_img(le, build_id="ab" * 20)).build_id == "ab" * 20
    blank = bytes([4, 0, 0, 0, 20, 0, 0, 0, 3, 0, 0, 0]) + b"GNU\0" + b"\xff" * 20  # erased flash
    assert extract(_img(blank)).build_id is None


def test_hash_size_and_flags_from_image():
    data = b"hello firmware"
    prov = extract(_img(data, stripped=True, has_dwarf=False))
    assert prov.sha256 == hashlib.sha256(data).hexdigest() and prov.size == len(data)
    assert prov.stripped is True and prov.has_dwarf is False
    given = extract(_img(data), file_sha256="00" * 32, file_size=999)
    assert (given.sha256, given.size) == ("00" * 32, 999)


def test_segment_hashes():
    data = bytes(range(256)) * 4
    segs = (Segment("text", 0x8000000, 0, 600, SegmentKind.CODE), Segment("data", 0x20000000, 600, 424),
            Segment("bss", 0x20001000, 1024, 4096, SegmentKind.BSS), Segment("bad", None, 1000, 100))
    out = segment_hashes(_img(data, segments=segs))
    assert [s.sha256 for s in out] == [hashlib.sha256(data[:600]).hexdigest(),
                                       hashlib.sha256(data[600:]).hexdigest(), None, None]
    assert [replace(s, sha256=None) for s in out] == list(segs)


def test_items_per_kind_are_bounded():
    data = b"".join(b"\0/home/user%d/src/f.c\0Jan %2d 2026\0" % (i, 1 + i % 28) for i in range(600))
    limits = replace(DEFAULT_LIMITS, max_items_per_kind=10)
    prov = extract(_img(data), limits)
    assert len(prov.build_paths) == 10 and len(prov.users) == 10 and len(prov.timestamps) == 10
    assert prov.users[0] == "user0"
