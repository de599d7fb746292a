"""Archive unpacking: formats, hostile entries (traversal, links, devices) and bombs."""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import stat
import tarfile
import zipfile

import pytest
import zstandard

from ecuscan.errors import FormatError, LimitExceeded, UnsupportedFormat
from ecuscan.formats import detect, is_container, load
from ecuscan.formats.archive import Member, Skipped, UnpackBudget, iter_members
from ecuscan.limits import Limits
from ecuscan.model import ImageFormat

FILES = {"usr/lib/libz.so.1": b"\x7fELF fake zlib", "etc/version": b"1.2.3\n"}


def _tar(entries: list[tarfile.TarInfo | tuple[str, bytes]], mode: str = "w") -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode=mode, format=tarfile.GNU_FORMAT) as tf:
        for e in entries:
            if isinstance(e, tarfile.TarInfo):
                tf.addfile(e)
            else:
                info = tarfile.TarInfo(e[0])
                info.size, info.mode = len(e[1]), 0o755
                tf.addfile(info, io.BytesIO(e[1]))
    return buf.getvalue()


def _members(data: bytes, path: str = "a", **kw) -> tuple[list[Member], list[Skipped]]:
    skipped: list[Skipped] = []
    return list(iter_members(data, path, limits=kw.pop("limits", Limits()), skipped=skipped, **kw)), skipped


@pytest.mark.parametrize("compress", [None, gzip.compress, bz2.compress, lzma.compress,
                                      lambda b: zstandard.ZstdCompressor().compress(b)])
def test_tar_formats(compress) -> None:
    raw = _tar(list(FILES.items()))
    blob = compress(raw) if compress else raw
    assert detect(blob) is ImageFormat.ARCHIVE and is_container(blob)
    members, skipped = _members(blob, "rootfs.tar")
    assert {m.name: m.data for m in members} == FILES
    lib = next(m for m in members if m.name == "usr/lib/libz.so.1")
    assert lib.path == "rootfs.tar!/usr/lib/libz.so.1" and lib.mode == 0o755
    assert skipped == []
    with pytest.raises(UnsupportedFormat, match="iter_members"):
        load(blob, "rootfs.tar")


def test_single_compressed_file() -> None:
    members, _ = _members(gzip.compress(b"kernel image bytes"), "fw/vmlinux.gz")
    assert [(m.name, m.data) for m in members] == [("vmlinux", b"kernel image bytes")]


def test_zip_with_symlink_and_traversal() -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("app/firmware.bin", b"\x01\x02" * 100)
        zf.writestr("../../etc/passwd", b"root::0:0")
        zf.writestr("/abs/path", b"x")
        link = zipfile.ZipInfo("app/evil")
        link.create_system, link.external_attr = 3, (stat.S_IFLNK | 0o777) << 16
        zf.writestr(link, "../../../../etc/shadow")
    members, skipped = _members(buf.getvalue(), "pkg.zip")
    assert [m.name for m in members] == ["app/firmware.bin"] and members[0].data == b"\x01\x02" * 100
    reasons = {s.path: s.reason for s in skipped}
    assert "unsafe name" in reasons["pkg.zip!/../../etc/passwd"]
    assert "unsafe name" in reasons["pkg.zip!//abs/path"]
    assert "leaving the archive" in reasons["pkg.zip!/app/evil"]


def test_tar_links_devices_traversal() -> None:
    sym_out = tarfile.TarInfo("lib/escape")
    sym_out.type, sym_out.linkname = tarfile.SYMTYPE, "../../../etc/shadow"
    sym_in = tarfile.TarInfo("lib/libz.so")
    sym_in.type, sym_in.linkname = tarfile.SYMTYPE, "libz.so.1"
    hard_out = tarfile.TarInfo("lib/hard")
    hard_out.type, hard_out.linkname = tarfile.LNKTYPE, "/etc/passwd"
    dev = tarfile.TarInfo("dev/sda")
    dev.type, dev.devmajor = tarfile.BLKTYPE, 8
    fifo = tarfile.TarInfo("run/fifo")
    fifo.type = tarfile.FIFOTYPE
    blob = _tar([("lib/libz.so.1", b"zz"), ("../outside", b"x"), sym_out, sym_in, hard_out, dev, fifo])
    members, skipped = _members(blob, "t.tar")
    assert [m.name for m in members] == ["lib/libz.so.1"]
    reasons = {s.path.split("!/", 1)[1]: s.reason for s in skipped}
    assert "unsafe" in reasons["../outside"]
    assert "leaving" in reasons["lib/escape"] and "leaving" in reasons["lib/hard"]
    assert "not a regular file" in reasons["lib/libz.so"]
    assert "device" in reasons["dev/sda"] and "device" in reasons["run/fifo"]


def test_bombs_and_limits() -> None:
    # a gzip that inflates to 64 MiB of zeros inside one tar member
    big = _tar([("zeros.bin", bytes(64 * 1024 * 1024))])
    bomb = gzip.compress(big, compresslevel=9)
    assert len(bomb) < 200_000
    with pytest.raises(LimitExceeded, match="max_unpacked_bytes"):
        list(iter_members(bomb, "bomb.tgz", limits=Limits(max_unpacked_bytes=8 * 1024 * 1024)))
    members, skipped = _members(bomb, "bomb.tgz", limits=Limits(max_member_bytes=1024 * 1024))
    assert members == [] and "max_member_bytes" in skipped[0].reason
    many = _tar([(f"f{i}", b"x") for i in range(50)])
    with pytest.raises(LimitExceeded, match="max_members"):
        list(iter_members(many, "many.tar", limits=Limits(max_members=10)))
    with pytest.raises(LimitExceeded, match="max_container_depth"):
        list(iter_members(many, "deep.tar", limits=Limits(max_container_depth=2), depth=3))
    # one budget shared across two containers bounds the tree
    budget = UnpackBudget()
    list(iter_members(many, "a.tar", budget=budget))
    with pytest.raises(LimitExceeded):
        list(iter_members(many, "b.tar", budget=budget, limits=Limits(max_members=60)))


def test_nested_archive_is_a_member() -> None:
    inner = _tar([("inner.txt", b"hi")])
    outer = _tar([("nested/inner.tar", inner)])
    members, _ = _members(outer, "outer.tar")
    assert members[0].path == "outer.tar!/nested/inner.tar" and is_container(members[0].data)
    sub, _ = _members(members[0].data, members[0].path, depth=1)
    assert sub[0].path == "outer.tar!/nested/inner.tar!/inner.txt" and sub[0].data == b"hi"


def _newc(entries: list[tuple[str, int, bytes]]) -> bytes:
    out = bytearray()
    for ino, (name, mode, data) in enumerate([*entries, ("TRAILER!!!", 0, b"")], 1):
        nb = name.encode() + b"\0"
        fields = [ino, mode, 0, 0, 1, 0, len(data), 0, 0, 0, 0, len(nb), 0]
        out += b"070701" + b"".join(f"{v:08X}".encode() for v in fields) + nb
        out += b"\0" * ((4 - len(out) % 4) % 4) + data + b"\0" * ((4 - len(data) % 4) % 4)
    return bytes(out)


def _odc(entries: list[tuple[str, int, bytes]]) -> bytes:
    out = bytearray()
    for name, mode, data in [*entries, ("TRAILER!!!", 0, b"")]:
        nb = name.encode() + b"\0"
        out += (b"070707" + b"%06o" % 0 + b"%06o" % 1 + b"%06o" % mode + b"%06o" % 0 * 2 + b"%06o" % 1
                + b"%06o" % 0 + b"%011o" % 0 + b"%06o" % len(nb) + b"%011o" % len(data)) + nb + data
    return bytes(out)


@pytest.mark.parametrize("build", [_newc, _odc])
def test_cpio(build) -> None:
    blob = build([("bin/busybox", stat.S_IFREG | 0o755, b"BusyBox v1.36.1"),
                  ("bin/sh", stat.S_IFLNK | 0o777, b"busybox"), ("dev/console", stat.S_IFCHR | 0o600, b""),
                  ("./etc/../../x", stat.S_IFREG | 0o644, b"no")])
    assert detect(blob) is ImageFormat.ARCHIVE
    for data in (blob, gzip.compress(blob)):
        members, skipped = _members(data, "initramfs.cpio")
        assert [(m.name, m.data, m.mode) for m in members] == [("bin/busybox", b"BusyBox v1.36.1", 0o755)]
        assert len(skipped) == 3
    with pytest.raises(FormatError, match=r"initramfs\.cpio"):
        list(iter_members(blob[:150], "initramfs.cpio"))


def _ar(entries: list[tuple[str, bytes]]) -> bytes:
    out = bytearray(b"!<arch>\n")
    for name, data in entries:
        out += f"{name:<16}{0:<12}{0:<6}{0:<6}{100644:<8}{len(data):<10}`\n".encode() + data
        if len(data) % 2:
            out += b"\n"
    return bytes(out)


def test_deb_yields_data_and_control() -> None:
    control = b"Package: zlib1g\nVersion: 1:1.3.dfsg+really1.3.1-1\nArchitecture: arm64\n"
    ctrl_tar = gzip.compress(_tar([("./control", control), ("./md5sums", b"")]))
    data_tar = lzma.compress(_tar([("./usr/lib/aarch64-linux-gnu/libz.so.1.3.1", b"\x7fELF zlib")]))
    deb = _ar([("debian-binary", b"2.0\n"), ("control.tar.gz", ctrl_tar), ("data.tar.xz", data_tar)])
    assert detect(deb) is ImageFormat.ARCHIVE
    members, _ = _members(deb, "zlib1g.deb")
    by_path = {m.path: m.data for m in members}
    assert by_path["zlib1g.deb!/DEBIAN/control"] == control
    assert by_path["zlib1g.deb!/usr/lib/aarch64-linux-gnu/libz.so.1.3.1"] == b"\x7fELF zlib"
    # a plain static library yields its object files
    lib = _ar([("crc32.o", b"\x7fELF obj"), ("adler32.o", b"\x7fELF obj2")])
    assert [m.name for m in _members(lib, "libz.a")[0]] == ["crc32.o", "adler32.o"]


def test_corrupt_containers_are_format_errors() -> None:
    good = _tar(list(FILES.items()))
    for bad in (gzip.compress(good)[:40], b"PK\x03\x04" + bytes(40), b"!<arch>\nshort", b"hsqs" + bytes(200),
                zstandard.ZstdCompressor().compress(good)[:30]):
        with pytest.raises(FormatError):
            list(iter_members(bad, "broken"))
    with pytest.raises(UnsupportedFormat):
        list(iter_members(b"plain text", "notes.txt"))
