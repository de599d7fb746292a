"""Format detection from the bytes (never from the file name)."""

from __future__ import annotations

import re
import zipfile

from ecuscan.model import Buffer, ImageFormat

from ._util import BufferStream, as_view

__all__ = ["detect", "is_container", "is_tar_header"]

_IHEX = re.compile(rb":[0-9A-Fa-f]{10}")
_SREC = re.compile(rb"S[0-9][0-9A-Fa-f]{6}")
_VBF = re.compile(rb"vbf_version\s*=")
_ODX_SUFFIX = re.compile(r"\.odx(-[a-z]{1,3})?$", re.IGNORECASE)

#: (magic, offset) pairs of containers ecuscan unpacks.
_CONTAINER_MAGIC: tuple[tuple[bytes, int], ...] = (
    (b"PK\x03\x04", 0), (b"PK\x05\x06", 0),  # zip (non-empty, empty)
    (b"\x1f\x8b\x08", 0),  # gzip (deflate)
    (b"\xfd7zXZ\x00", 0),  # xz
    (b"1AY&SY", 4),  # bzip2 block magic after "BZh<level>"
    (b"\x28\xb5\x2f\xfd", 0),  # zstd
    (b"070701", 0), (b"070702", 0), (b"070707", 0),  # cpio newc / crc / odc
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
    calc = sum(block[:148]) + 8 * 32 + sum(block[156:512])
    return stored == calc


def _binary_cpio(head: bytes) -> bool:
    """Old binary cpio: 2-byte magic, so also require a plausible NUL-terminated first name."""
    if head[:2] not in (b"\xc7\x71", b"\x71\xc7") or len(head) < 28:
        return False
    namesize = int.from_bytes(head[20:22], "little" if head[:2] == b"\xc7\x71" else "big")
    name = head[26:26 + namesize]
    return 1 < namesize <= 256 and len(name) == namesize and name.endswith(b"\0") and name[:-1].isascii() \
        and b"\0" not in name[:-1]


def _zip_is_odx(data: Buffer) -> bool:
    try:
        with zipfile.ZipFile(BufferStream(data)) as zf:
            for i, name in enumerate(zf.namelist()):
                if i > 100_000:
                    return False
                base = name.rsplit("/", 1)[-1]
                if _ODX_SUFFIX.search(base) or name.lower() == "index.xml":
                    return True
    except Exception:  # any zip error: not an ODX container; iter_members reports it
        return False
    return False


def is_container(data: Buffer) -> bool:
    """True if the bytes are an archive or filesystem image that :func:`iter_members` unpacks.

    >>> is_container(b"!<arch>\\n"), is_container(b"\\x7fELF")
    (True, False)
    """
    return detect(data) is ImageFormat.ARCHIVE


def detect(data: Buffer) -> ImageFormat:
    """Detect the image format from the first bytes.

    >>> detect(b"\\x7fELF\\x01\\x01\\x01")
    <ImageFormat.ELF: 'elf'>
    >>> detect(b":100000000000042000000000000000000000000000DC\\n").value
    'ihex'
    >>> detect(b"S00600004844521B\\n").value
    'srec'
    >>> detect(b"vbf_version = 2.6;").value
    'vbf'
    >>> detect(b"\\x00\\x01\\x02").value
    'raw'
    """
    mv = as_view(data)
    first = bytes(mv[:1024])
    if first.startswith(b"\x7fELF"):
        return ImageFormat.ELF
    if first.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return ImageFormat.ODX if _zip_is_odx(data) else ImageFormat.ARCHIVE
    for magic, off in _CONTAINER_MAGIC:
        if first[off:off + len(magic)] == magic:
            return ImageFormat.ARCHIVE
    if is_tar_header(first[:512]) or _binary_cpio(first):
        return ImageFormat.ARCHIVE
    text = first.lstrip(b"\xef\xbb\xbf \t\r\n")
    if _IHEX.match(text):
        return ImageFormat.IHEX
    if _SREC.match(text):
        return ImageFormat.SREC
    if _VBF.match(text):
        return ImageFormat.VBF
    if text.startswith(b"<") and b"<ODX" in bytes(mv[:8192]):
        return ImageFormat.ODX
    return ImageFormat.RAW
