"""Unpacking archives and filesystem images into members, within limits.

Formats: zip (zipfile), tar (tarfile) plain or compressed with gzip/bzip2/xz (stdlib) or zstd
(zstandard), cpio newc/odc/binary and ar / Debian ``.deb`` (hand-written, see ``_cpio_ar``),
squashfs (PySquashfsImage, else Debian's ``unsquashfs``). A compressed stream that is not a tar
or cpio is returned as one member (``vmlinux.gz`` → ``vmlinux``).

Only regular files are returned. Everything else is skipped: directories silently; symlinks,
hard links, devices, FIFOs, unsafe names (absolute, ``..``), oversized or unreadable members are
reported as :class:`Skipped` values appended to the caller's ``skipped`` list (when given), so
:func:`iter_members` itself yields :class:`Member` values only. Nested archives are returned
as members: the caller recurses with ``depth + 1`` (see :func:`is_container`).

Limits: ``max_container_depth`` (``depth`` argument), ``max_members`` and ``max_unpacked_bytes``
(:class:`LimitExceeded` once passed; pass one :class:`UnpackBudget` through the recursion to count
a whole container tree, otherwise each call counts its own container), ``max_member_bytes`` (that
member is skipped), and decompressed stream bytes (a bomb is stopped while inflating).
"""

from __future__ import annotations

import bz2
import gzip
import itertools
import lzma
import posixpath
import shutil
import stat
import subprocess
import tarfile
import tempfile
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any, BinaryIO, cast

import zstandard

from ecuscan.errors import EcuscanError, FormatError, LimitExceeded, UnsupportedFormat
from ecuscan.limits import DEFAULT_LIMITS, Limits
from ecuscan.model import Buffer, ImageFormat
from ecuscan.textsafe import printable

from ._cpio_ar import RawEntry, iter_ar, iter_cpio
from ._util import BufferStream, as_view, decode_budget
from .base import FormatInfo, LoaderFormat, Member, OffsetMap, Skipped, UnpackBudget
from .registry import is_container

__all__ = ["CPIO_MAGICS", "Member", "Skipped", "UnpackBudget", "is_container", "is_tar_header", "iter_members"]


class _Counting:
    """Wraps a decompressor: raises LimitExceeded once more than ``limit`` bytes came out."""

    def __init__(self, f: Any, limit: int, path: str, prefix: bytes = b"") -> None:
        self._f, self._limit, self._path, self._prefix, self.count = f, limit, path, prefix, 0

    def read(self, n: int = -1) -> bytes:
        if self._prefix:
            take = self._prefix if n < 0 else self._prefix[:n]
            self._prefix = self._prefix[len(take):]
            rest = b"" if n >= 0 and len(take) == n else self._raw(n - len(take) if n >= 0 else -1)
            return take + rest
        return self._raw(n)

    def _raw(self, n: int) -> bytes:
        data: bytes = self._f.read(n if n >= 0 else self._limit + 1 - self.count)
        self.count += len(data)
        if self.count > self._limit:
            raise LimitExceeded(f"decompressed stream exceeds max_unpacked_bytes={self._limit}", source=self._path)
        return data


def _safe_name(name: str) -> str | None:
    """Normalised relative name, or None when absolute / escaping / empty."""
    n = name.replace("\\", "/")
    if n.startswith("/") or (len(n) > 1 and n[1] == ":"):
        return None
    parts = [p for p in n.split("/") if p not in ("", ".")]
    if not parts or ".." in parts:
        return None
    return "/".join(parts)


def _link_escapes(name: str, target: str) -> bool:
    if target.startswith("/"):
        return True
    joined = posixpath.normpath(posixpath.join(posixpath.dirname(name), target))
    return joined == ".." or joined.startswith("../")


class _Walker:
    """Applies the policy (names, kinds, limits) to raw entries of one container."""

    def __init__(self, path: str, limits: Limits, budget: UnpackBudget, skipped: list[Skipped] | None) -> None:
        self.path, self.limits, self.budget, self.skipped = path, limits, budget, skipped
        self.decoded = decode_budget(limits)  # shared with everything else decompressed from this input

    def skip(self, name: str, reason: str) -> None:
        if self.skipped is not None and len(self.skipped) < self.limits.max_members:
            self.skipped.append(Skipped(f"{self.path}!/{printable(name, 300)}", reason))

    def admit(self, raw_name: str, mode: int | None, size: int | None, link: str | None = None) -> str | None:
        """The safe name if this entry is to be read, else None (recorded as skipped)."""
        name = _safe_name(raw_name)
        if name is None:
            self.skip(raw_name, "unsafe name (absolute or '..'): refused")
            return None
        if link is not None:
            self.skip(name, "link leaving the archive tree: refused" if _link_escapes(name, link)
                      else f"link to {printable(link, 200)}: not a regular file")
            return None
        if mode is not None and stat.S_IFMT(mode) and not stat.S_ISREG(mode):
            if not stat.S_ISDIR(mode):
                self.skip(name, "device or special file: not unpacked")
            return None
        if size is not None and size > self.limits.max_member_bytes:
            self.skip(name, f"{size} bytes, more than max_member_bytes={self.limits.max_member_bytes}")
            return None
        return name

    def take(self, name: str, read: Any, mode: int | None) -> Member | None:
        """Read a member's bytes (bounded by the member limit and by what is left of the input's
        decode budget, so a stream cannot inflate past either) and charge the budgets."""
        want = min(self.limits.max_member_bytes, self.decoded.left)
        data = read(want + 1)
        if len(data) > want:
            if want < self.limits.max_member_bytes:
                self.decoded.charge(len(data), self.path, f"member {printable(name, 200)}")
            self.skip(name, f"more than max_member_bytes={self.limits.max_member_bytes}")
            return None
        self.decoded.charge(len(data), self.path, f"member {printable(name, 200)}")
        self.budget.take(len(data), self.limits, self.path)
        return Member(path=f"{self.path}!/{name}", name=name, data=bytes(data),
                      mode=stat.S_IMODE(mode) if mode is not None else None)


def iter_members(data: Buffer, path: str, *, limits: Limits = DEFAULT_LIMITS, depth: int = 0,
                 skipped: list[Skipped] | None = None, budget: UnpackBudget | None = None) -> Iterator[Member]:
    """Yield the regular files of a container (zip, tar[.gz/.bz2/.xz/.zst], cpio, ar/.deb, squashfs).

    ``skipped`` (optional) collects :class:`Skipped` entries; ``budget`` (optional) is shared
    across nested calls to bound a whole tree. A ``.deb`` (or an ``.ipk``, in its ar form or
    OpenWrt's tar form) yields its data.tar files plus its control file as
    ``<deb>!/DEBIAN/control``. Raises :class:`FormatError` on a corrupt
    container, :class:`LimitExceeded` past the limits, :class:`UnsupportedFormat` for non-containers.
    """
    if depth > limits.max_container_depth:
        raise LimitExceeded(f"containers nested deeper than max_container_depth={limits.max_container_depth}",
                            source=path)
    walker = _Walker(path, limits, budget if budget is not None else UnpackBudget(), skipped)
    try:
        yield from _dispatch(data, walker)
    except EcuscanError as exc:
        if exc.source is None:
            raise type(exc)(exc.message, source=path) from exc
        raise
    except RecursionError as exc:
        raise FormatError("container structure nests too deeply (directory loop?)", source=path) from exc
    except Exception as exc:  # zipfile/tarfile/zlib/lzma/zstandard/PySquashfsImage errors on corrupt input
        raise FormatError(f"corrupt container: {type(exc).__name__}: {printable(str(exc), 200)}",
                          source=path) from exc


def _dispatch(data: Buffer, w: _Walker) -> Iterator[Member]:
    head = bytes(as_view(data)[:512])
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        yield from _zip(data, w)
    elif head.startswith(b"!<arch>\n"):
        yield from _ar(data, w)
    elif head.startswith((b"hsqs", b"sqsh")):
        yield from _squashfs(data, w)
    elif head[257:262] == b"ustar" or is_tar_header(head):
        with tarfile.open(fileobj=cast(IO[bytes], BufferStream(data)), mode="r:") as tf:
            _tar_preflight(tf, w)
            yield from _tar(tf, w, "")
    elif head.startswith(CPIO_MAGICS):
        yield from _cpio(cast(BinaryIO, BufferStream(data)), w)
    elif _decompressor(head, BufferStream(data)) is not None:
        yield from _compressed(data, w)
    else:
        raise UnsupportedFormat("not an archive or filesystem image ecuscan can unpack")


def _decompressor(head: bytes, stream: BufferStream) -> Any:
    src = cast(IO[bytes], stream)
    if head.startswith(b"\x1f\x8b"):
        return gzip.GzipFile(fileobj=src, mode="rb")
    if head.startswith(b"BZh"):
        return bz2.BZ2File(src)
    if head.startswith(b"\xfd7zXZ\x00"):
        return lzma.LZMAFile(src)
    if head.startswith(b"\x28\xb5\x2f\xfd"):
        return zstandard.ZstdDecompressor().stream_reader(src, read_across_frames=True)
    return None


def _compressed(data: Buffer, w: _Walker, name: str | None = None) -> Iterator[Member]:
    src = BufferStream(data)
    head = bytes(as_view(data)[:16])
    dec = _decompressor(head, src)
    first = dec.read(512)
    if not first:
        raise FormatError("compressed stream decompresses to nothing (truncated or corrupt)")
    stream = _Counting(dec, w.limits.max_unpacked_bytes, w.path, prefix=first)
    if first[257:262] == b"ustar" or is_tar_header(first):
        with tarfile.open(fileobj=cast(IO[bytes], stream), mode="r|") as tf:
            yield from _tar(tf, w, "")
    elif first.startswith(CPIO_MAGICS):
        yield from _cpio(cast(BinaryIO, stream), w)
    else:  # a single compressed file
        inner = name or _single_name(w.path, head, dec)
        member = w.take(inner, stream.read, None)
        if member is not None:
            yield member


def _single_name(path: str, head: bytes, dec: Any) -> str:
    base = posixpath.basename(path.replace("!/", "/")) or "data"
    for suffix in (".gz", ".tgz", ".bz2", ".xz", ".zst", ".zstd", ".lzma"):
        if base.endswith(suffix):
            return base[: -len(suffix)] + (".tar" if suffix == ".tgz" else "")
    return base + ".out"


def _tar(tf: tarfile.TarFile, w: _Walker, prefix: str) -> Iterator[Member]:
    package: bool | None = None  # an OpenWrt .ipk: a tar of debian-binary, control.tar.gz, data.tar.gz
    for count, info in enumerate(tf):
        if count > w.limits.max_members * 2:
            raise LimitExceeded(f"more than {w.limits.max_members} tar entries", source=w.path)
        if info.isdir():
            continue
        bare = info.name[2:] if info.name.startswith("./") else info.name
        if package is None and not prefix:
            package = info.isreg() and bare == "debian-binary"
            if package:
                continue
        if package and info.isreg() and bare.startswith(("control.tar", "data.tar")):
            if info.size > w.limits.max_member_bytes:
                w.skip(bare, f"{info.size} bytes, more than max_member_bytes={w.limits.max_member_bytes}")
                continue
            fobj = tf.extractfile(info)
            if fobj is not None:
                blob = fobj.read()
                yield from (_deb_control(blob, w) if bare.startswith("control") else _deb_data(blob, w))
            continue
        link = info.linkname if (info.issym() or info.islnk()) else None
        if info.isreg():
            mode = stat.S_IFREG | (info.mode & 0o7777)
        elif link is not None:
            mode = stat.S_IFLNK
        else:  # character/block device, FIFO, other special entries
            mode = stat.S_IFCHR if (info.ischr() or info.isblk()) else stat.S_IFIFO
        name = w.admit(prefix + info.name, mode, info.size if info.isreg() else None, link)
        if name is None:
            continue
        fobj = tf.extractfile(info)
        if fobj is None:
            continue
        member = w.take(name, fobj.read, info.mode)
        if member is not None:
            yield member


def _tar_preflight(tf: tarfile.TarFile, w: _Walker) -> None:
    """A tar held in memory: read every header first (cheap: the data is skipped) and refuse the
    archive when its regular files declare more than the input's decode budget has left."""
    total = 0
    for count, info in enumerate(tf):
        if count > w.limits.max_members * 2:
            raise LimitExceeded(f"more than twice max_members={w.limits.max_members} tar entries", source=w.path)
        if info.isreg() and info.size <= w.limits.max_member_bytes:
            total += info.size
    w.decoded.check(total, w.path, "the tar's regular files")


def zip_preflight(zf: zipfile.ZipFile, data: Buffer, path: str, limits: Limits, declared: int) -> None:
    """Checks on a zip from its headers alone, before anything is inflated.

    Refuses more than ``max_members`` entries and entries whose compressed data overlap (several
    central-directory entries reading the same compressed bytes is how the classic non-recursive
    zip bombs reach a ratio of millions); ``declared`` (the sizes of the entries the caller will
    read) must fit ``max_unpacked_bytes`` and the input's decode budget.
    """
    infos = zf.infolist()
    if len(infos) > limits.max_members:
        raise LimitExceeded(f"zip lists {len(infos)} entries, more than max_members={limits.max_members}",
                            source=path)
    mv = as_view(data)
    spans = []
    for info in infos:
        local = bytes(mv[info.header_offset:info.header_offset + 30])
        if len(local) < 30 or not local.startswith(b"PK\x03\x04"):
            raise FormatError(f"zip entry {printable(info.filename, 200)!r}: no local header at offset "
                              f"{info.header_offset}", source=path)
        start = info.header_offset
        end = start + 30 + int.from_bytes(local[26:28], "little") + int.from_bytes(local[28:30], "little") \
            + info.compress_size
        spans.append((start, end, info.filename))
    spans.sort()
    for (_s1, e1, n1), (s2, _e2, n2) in itertools.pairwise(spans):
        if s2 < e1:
            raise LimitExceeded(f"zip entries {printable(n1, 100)!r} and {printable(n2, 100)!r} share compressed "
                                "data (overlapping entries: a zip-bomb construction): refused", source=path)
    if declared > limits.max_unpacked_bytes:
        raise LimitExceeded(f"zip entries declare {declared} bytes, more than max_unpacked_bytes="
                            f"{limits.max_unpacked_bytes}", source=path)
    decode_budget(limits).check(declared, path, "the zip's entries")


def _zip(data: Buffer, w: _Walker) -> Iterator[Member]:
    with zipfile.ZipFile(cast(IO[bytes], BufferStream(data))) as zf:
        infos = zf.infolist()
        declared = sum(i.file_size for i in infos if not i.is_dir() and not i.flag_bits & 0x1
                       and i.file_size <= w.limits.max_member_bytes)
        zip_preflight(zf, data, w.path, w.limits, declared)
        for info in infos:
            if info.is_dir():
                continue
            mode = (info.external_attr >> 16) if info.create_system == 3 else None
            link = None
            if mode is not None and stat.S_ISLNK(mode):
                with zf.open(info) as lf:
                    link = lf.read(4096).decode("utf-8", errors="replace")
            name = w.admit(info.filename, mode if mode and stat.S_IFMT(mode) else None, info.file_size, link)
            if name is None:
                continue
            if info.flag_bits & 0x1:
                w.skip(name, "encrypted zip member: not unpacked")
                continue
            try:
                with zf.open(info) as fobj:
                    member = w.take(name, fobj.read, mode)
            except (zipfile.BadZipFile, NotImplementedError, RuntimeError, OSError, EOFError, ValueError,
                    lzma.LZMAError) as exc:
                w.skip(name, f"unreadable zip member: {printable(str(exc), 200)}")
                continue
            if member is not None:
                yield member


def _cpio(f: BinaryIO, w: _Walker) -> Iterator[Member]:
    for count, (entry, reader) in enumerate(iter_cpio(f)):
        if count > w.limits.max_members * 2:
            raise LimitExceeded(f"more than {w.limits.max_members} cpio entries", source=w.path)
        name = w.admit(entry.name, entry.mode, entry.size, entry.link_target)
        if name is None:
            continue
        member = w.take(name, reader.read, entry.mode)
        if member is not None:
            yield member


def _ar(data: Buffer, w: _Walker) -> Iterator[Member]:
    # members are views into the archive's own buffer until one is taken, so listing a static
    # library does not copy every object in it first
    mv = as_view(data)
    stream = BufferStream(data)
    entries: list[tuple[RawEntry, memoryview]] = []
    for count, (entry, _reader) in enumerate(iter_ar(cast(BinaryIO, stream))):
        if count > w.limits.max_members:
            raise LimitExceeded(f"more than max_members={w.limits.max_members} ar members", source=w.path)
        if entry.size > w.limits.max_member_bytes:
            w.skip(entry.name, f"{entry.size} bytes, more than max_member_bytes={w.limits.max_member_bytes}")
            continue
        start = stream.tell()
        if start + entry.size > len(mv):
            raise FormatError(f"ar member {printable(entry.name, 200)!r} runs past the end of the archive")
        entries.append((entry, mv[start:start + entry.size]))
    names = [e.name for e, _ in entries]
    is_deb = bool(names) and names[0] == "debian-binary"
    if not is_deb:
        for entry, blob in entries:
            name = w.admit(entry.name, entry.mode, entry.size)
            if name is not None:
                member = w.take(name, _BytesReader(blob).read, entry.mode)
                if member is not None:
                    yield member
        return
    for entry, blob in entries:
        if entry.name.startswith("control.tar"):
            yield from _deb_control(blob, w)
        elif entry.name.startswith("data.tar"):
            yield from _deb_data(blob, w)


class _BytesReader:
    def __init__(self, blob: bytes | memoryview) -> None:
        self._blob = blob

    def read(self, n: int = -1) -> bytes:
        return bytes(self._blob if n < 0 else self._blob[:n])


def _deb_tar(blob: Buffer, w: _Walker) -> tarfile.TarFile:
    head = bytes(as_view(blob)[:16])
    if _decompressor(head, BufferStream(blob)) is None:
        return tarfile.open(fileobj=cast(IO[bytes], BufferStream(blob)), mode="r:")
    dec = _decompressor(head, BufferStream(blob))
    return tarfile.open(fileobj=cast(IO[bytes], _Counting(dec, w.limits.max_unpacked_bytes, w.path)), mode="r|")


def _deb_data(blob: Buffer, w: _Walker) -> Iterator[Member]:
    with _deb_tar(blob, w) as tf:
        yield from _tar(tf, w, "")


def _deb_control(blob: Buffer, w: _Walker) -> Iterator[Member]:
    with _deb_tar(blob, w) as tf:
        for info in tf:
            if info.isreg() and _safe_name(info.name) == "control" and info.size <= 1024 * 1024:
                fobj = tf.extractfile(info)
                if fobj is not None:
                    member = w.take("DEBIAN/control", fobj.read, info.mode)
                    if member is not None:
                        yield member
                return


def _squashfs(data: Buffer, w: _Walker) -> Iterator[Member]:
    try:
        # imported for SquashFS images only (start-up)
        from PySquashfsImage import SquashFsImage
    except ImportError:
        yield from _unsquashfs(data, w)
        return
    with SquashFsImage(BufferStream(data), closefd=False) as image:
        for count, item in enumerate(image):
            if count > w.limits.max_members * 2:
                raise LimitExceeded(f"more than {w.limits.max_members} squashfs entries", source=w.path)
            if item.is_dir:
                continue
            raw_name = item.path.lstrip("/")
            link = item.readlink() if item.is_symlink else None
            mode = item.mode if not item.is_file else (stat.S_IFREG | (item.mode & 0o7777))
            name = w.admit(raw_name, mode, item.size if item.is_file else None, link)
            if name is None:
                continue
            member = w.take(name, _SquashReader(item).read, item.mode)
            if member is not None:
                yield member


class _SquashReader:
    def __init__(self, item: Any) -> None:
        self._item = item

    def read(self, n: int) -> bytes:
        out = bytearray()
        for block in self._item.iter_bytes():
            out += block
            if len(out) >= n:
                break
        return bytes(out[:n])


def _unsquashfs(data: Buffer, w: _Walker) -> Iterator[Member]:
    """Fallback through Debian's unsquashfs (squashfs-tools) when PySquashfsImage is missing."""
    tool = shutil.which("unsquashfs")
    if tool is None:
        raise FormatError("squashfs image, but neither PySquashfsImage nor unsquashfs (squashfs-tools) "
                          "is available")
    with tempfile.TemporaryDirectory(prefix="ecuscan-sqfs-") as tmp:
        img = Path(tmp) / "image.sqfs"
        img.write_bytes(bytes(as_view(data)))
        out = Path(tmp) / "root"
        res = subprocess.run([tool, "-no-xattrs", "-n", "-d", str(out), str(img)], capture_output=True,
                             timeout=600, check=False)
        if res.returncode != 0:
            raise FormatError(f"unsquashfs failed: {printable(res.stderr.decode(errors='replace'), 300)}")
        for p in sorted(out.rglob("*")):
            rel = p.relative_to(out).as_posix()
            st = p.lstat()
            link = str(p.readlink()) if p.is_symlink() else None
            name = w.admit(rel, st.st_mode, st.st_size, link)
            if name is None:
                continue
            with p.open("rb") as fobj:
                member = w.take(name, fobj.read, st.st_mode)
            if member is not None:
                yield member


# Registration (ecuscan.formats.registry): the magic bytes of every container read above.

#: cpio newc / crc / odc, then old binary cpio (little / big endian).
CPIO_MAGICS = (b"070701", b"070702", b"070707", b"\xc7\x71", b"\x71\xc7")

#: (magic, offset) of the containers recognised by their first bytes.
_CONTAINER_MAGIC: tuple[tuple[bytes, int], ...] = (
    (b"PK\x03\x04", 0), (b"PK\x05\x06", 0),  # zip (non-empty, empty)
    (b"\x1f\x8b\x08", 0),  # gzip (deflate)
    (b"\xfd7zXZ\x00", 0),  # xz
    (b"1AY&SY", 4),  # bzip2 block magic after "BZh<level>"
    (b"\x28\xb5\x2f\xfd", 0),  # zstd
    *((m, 0) for m in CPIO_MAGICS[:3]),
    (b"hsqs", 0), (b"sqsh", 0),  # squashfs (little / big endian)
    (b"!<arch>\n", 0),  # ar, Debian .deb
    (b"ustar", 257),  # POSIX / GNU tar
)


def is_tar_header(block: bytes) -> bool:
    """True if ``block`` (512 bytes) is a tar header with a valid checksum (also pre-POSIX tar).

    >>> import io, tarfile
    >>> buf = io.BytesIO()
    >>> with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as tf:
    ...     tf.addfile(tarfile.TarInfo("a"), io.BytesIO(b""))
    >>> is_tar_header(buf.getvalue()[:512]), is_tar_header(bytes(512))
    (True, False)
    """
    if len(block) < 512 or block[0] == 0:
        return False
    field = block[148:156].split(b"\0", 1)[0].strip()
    try:
        stored = int(field, 8)
    except ValueError:
        return False
    return stored == sum(block[:148]) + 8 * 32 + sum(block[156:512])


def _binary_cpio(head: bytes) -> bool:
    """Old binary cpio: a 2-byte magic, so also require a plausible NUL-terminated first name."""
    if head[:2] not in CPIO_MAGICS[3:] or len(head) < 28:
        return False
    namesize = int.from_bytes(head[20:22], "little" if head[:2] == CPIO_MAGICS[3] else "big")
    name = head[26:26 + namesize]
    return 1 < namesize <= 256 and len(name) == namesize and name.endswith(b"\0") and name[:-1].isascii() \
        and b"\0" not in name[:-1]


def _probe_container(head: bytes, _data: Buffer) -> bool:
    return (any(head[off:off + len(magic)] == magic for magic, off in _CONTAINER_MAGIC)
            or is_tar_header(head[:512]) or _binary_cpio(head))


FORMATS = (LoaderFormat(
    FormatInfo(ImageFormat.ARCHIVE, "archive or filesystem image: zip, tar (plain, gzip, bzip2, xz, zstd), "
               "cpio, ar/.deb/.ipk, squashfs; a compressed single file", "application/octet-stream",
               "zip/gzip/xz/bzip2/zstd/cpio/squashfs/ar magic, or a tar header with a valid checksum",
               OffsetMap.MEMBERS, container=True),
    _probe_container, members_fn=iter_members),)
