"""ODX-F / PDX loader through odxtools.

The XML is first checked with defusedxml (odxtools parses with the stdlib ElementTree, which does not
refuse entity tricks), then odxtools loads it from a private temporary file (it reads by path).
From every FLASH / ECU-MEM / MEM: each DATABLOCK's flash data (internal hex data in BINARY,
INTEL-HEX or MOTOROLA-S format, or an external file of the PDX) becomes segments at the
DATABLOCK's SEGMENT source start addresses; SESSION expected identifications go into
``metadata`` as ``expected_ident.<SHORT-NAME>``.
"""

from __future__ import annotations

import re
import tempfile
import zipfile
from pathlib import Path, PurePosixPath
from typing import IO, Any, cast

import defusedxml.ElementTree as SafeET

from ecuscan.errors import FormatError, LimitExceeded
from ecuscan.limits import DEFAULT_LIMITS, Limits
from ecuscan.model import Buffer, Diagnostic, Image, ImageFormat, Segment, SegmentKind, Severity
from ecuscan.textsafe import printable

from ._util import BufferStream, as_view, check_file_size, decode_budget, sha256_of
from .archive import zip_preflight
from .base import FormatInfo, LoaderFormat, OffsetMap
from .hexsrec import load_hexsrec

__all__ = ["load_odx"]


def _check_xml(raw: bytes, name: str, path: str) -> None:
    try:
        SafeET.fromstring(raw, forbid_dtd=True)
    except Exception as exc:  # defusedxml / expat errors
        raise FormatError(f"{name}: unsafe or malformed XML: {printable(str(exc), 200)}", source=path) from exc


def _is_xml(name: str) -> bool:
    """Members odxtools parses as XML (any ``.odx*`` suffix, ``index.xml``), and other ``.xml``."""
    suffix = PurePosixPath(name).suffix.lower()
    return suffix.startswith(".odx") or suffix == ".xml"


class _Extern:
    """The non-XML members of a PDX, read only when a FLASHDATA refers to one, each checked from
    its declared size (against the room left for flash data and the input's decode budget)
    before it is inflated."""

    def __init__(self, zf: zipfile.ZipFile | None, path: str, limits: Limits) -> None:
        self.zf, self.path, self.limits = zf, path, limits
        self.infos: dict[str, zipfile.ZipInfo] = {}
        if zf is not None:
            for info in zf.infolist():
                if not info.is_dir() and not _is_xml(info.filename):
                    self.infos.setdefault(info.filename.rsplit("/", 1)[-1], info)

    def read(self, name: str, room: int) -> bytes | None:
        info = self.infos.get(name.rsplit("/", 1)[-1])
        if info is None or self.zf is None:
            return None
        shown = printable(info.filename, 200)
        if info.file_size > min(room, self.limits.max_member_bytes):
            raise LimitExceeded(f"PDX member {shown!r} declares {info.file_size} bytes of flash data, more than "
                                f"the {room} left under max_decoded_bytes={self.limits.max_decoded_bytes}",
                                source=self.path)
        decode_budget(self.limits).charge(info.file_size, self.path, f"PDX member {shown!r}")
        try:
            return self.zf.read(info)
        except (zipfile.BadZipFile, OSError, EOFError, ValueError, NotImplementedError, RuntimeError) as exc:
            raise FormatError(f"PDX member {shown!r} unreadable: {printable(str(exc), 200)}", source=self.path) from exc


def load_odx(data: Buffer, path: str, *, limits: Limits = DEFAULT_LIMITS) -> Image:
    """Load an ODX-F file or a PDX container; flash data blocks become segments.

    A PDX is checked from its zip headers before anything is inflated (entry count, overlapping
    entries, each XML document against ``max_document_bytes``, their total against the input's
    decode budget); external flash data files are read only when referenced, each against what
    is left of ``max_decoded_bytes``.
    """
    check_file_size(data, path, limits)
    raw = bytes(as_view(data))
    if not raw.startswith(b"PK"):
        if len(raw) > limits.max_document_bytes:
            raise LimitExceeded(f"ODX document larger than max_document_bytes={limits.max_document_bytes}",
                                source=path)
        _check_xml(raw, "ODX", path)
        return _to_image(_odxtools_load(raw, ".odx-f", path), path, _Extern(None, path, limits), limits)
    try:
        with zipfile.ZipFile(cast(IO[bytes], BufferStream(raw))) as zf:
            xml = [i for i in zf.infolist() if not i.is_dir() and _is_xml(i.filename)]
            for info in xml:
                if info.file_size > limits.max_document_bytes:
                    raise LimitExceeded(f"PDX member {printable(info.filename, 200)!r} is {info.file_size} bytes, "
                                        f"more than max_document_bytes={limits.max_document_bytes}", source=path)
            zip_preflight(zf, raw, path, limits, sum(i.file_size for i in xml))
            for info in xml:
                decode_budget(limits).charge(info.file_size, path, f"PDX member {printable(info.filename, 200)!r}")
                _check_xml(zf.read(info), info.filename, path)
            database = _odxtools_load(raw, ".pdx", path)
            return _to_image(database, path, _Extern(zf, path, limits), limits)
    except zipfile.BadZipFile as exc:
        raise FormatError(f"corrupt PDX: {exc}", source=path) from exc


def _odxtools_load(raw: bytes, suffix: str, path: str) -> Any:
    # imported for ODX input only: odxtools is slow to import (start-up)
    import odxtools

    with tempfile.TemporaryDirectory(prefix="ecuscan-odx-") as tmp:
        f = Path(tmp) / f"input{suffix}"
        f.write_bytes(raw)
        try:
            return odxtools.load_file(f)
        except Exception as exc:  # odxtools raises OdxError, KeyError, ValueError ... on bad input
            raise FormatError(f"odxtools cannot load it: {type(exc).__name__}: {printable(str(exc), 300)}",
                              source=path) from exc


def _flash_bytes(fd: Any, extern: _Extern, path: str, limits: Limits,
                 room: int) -> tuple[bytes, list[tuple[int, int, int]]]:
    """Decoded flash data and, for HEX/S-record data, its (address, offset, size) runs."""
    selection = str(getattr(getattr(fd.dataformat, "selection", None), "value", fd.dataformat.selection))
    if hasattr(fd, "data"):
        text = fd.data
    else:
        name = str(getattr(getattr(fd, "datafile", None), "value", "") or "")
        blob = extern.read(name, room)
        if blob is None:
            raise FormatError(f"external flash data file {name!r} not in the PDX", source=path)
        if selection == "BINARY":
            return blob, []
        text = blob.decode("ascii", errors="replace")
    if selection == "BINARY":
        hexdigits = re.sub(r"\s+", "", text)
        if len(hexdigits) // 2 > limits.max_decoded_bytes:
            raise LimitExceeded("ODX flash data exceeds max_decoded_bytes", source=path)
        try:
            return bytes.fromhex(hexdigits), []
        except ValueError as exc:
            raise FormatError(f"flash data {fd.short_name!r} is not hex: {exc}", source=path) from exc
    img = load_hexsrec(text.encode("ascii", errors="replace"), f"{path}:{fd.short_name}", limits=limits)
    return bytes(img.data), [(s.address or 0, s.offset, s.size) for s in img.segments]


def _to_image(database: Any, path: str, extern: _Extern, limits: Limits) -> Image:
    payload = bytearray()
    segments: list[Segment] = []
    meta: dict[str, str] = {}
    diags: list[Diagnostic] = []
    for flash in database.flashs:
        meta.setdefault("flash", str(flash.short_name))
        for ecu_mem in flash.ecu_mems:
            mem = ecu_mem.mem
            for session in mem.sessions:
                for ident in session.expected_idents:
                    values = ",".join(str(v.value_raw) for v in ident.ident_values)
                    meta[f"expected_ident.{ident.short_name}"] = printable(values, 500)
            for block in mem.datablocks:
                fd = block.flashdata
                if fd is None:
                    diags.append(Diagnostic("odx-no-flashdata", f"datablock {block.short_name} has no flash data",
                                            Severity.INFO))
                    continue
                blob, runs = _flash_bytes(fd, extern, path, limits, limits.max_decoded_bytes - len(payload))
                if len(payload) + len(blob) > limits.max_decoded_bytes:
                    raise LimitExceeded("ODX flash data exceeds max_decoded_bytes", source=path)
                base = len(payload)
                payload += blob
                if runs:
                    pieces = [(a, o, s) for a, o, s in runs]
                else:
                    pieces, pos = [], 0
                    for seg in block.segments:
                        size = seg.uncompressed_size if seg.uncompressed_size is not None else len(blob) - pos
                        size = max(0, min(size, len(blob) - pos))
                        pieces.append((int(seg.source_start_address), pos, size))
                        pos += size
                    if not pieces:
                        pieces = [(-1, 0, len(blob))]
                for i, (addr, off, size) in enumerate(pieces):
                    if len(segments) >= limits.max_segments:
                        raise LimitExceeded(f"more than max_segments={limits.max_segments} ODX segments", source=path)
                    segments.append(Segment(
                        name=f"{block.short_name}#{i}", address=None if addr < 0 else addr, offset=base + off,
                        size=size, kind=SegmentKind.OTHER, file_offset=None,
                        sha256=sha256_of(payload, base + off, size)))
    if not segments:
        diags.append(Diagnostic("odx-no-flash", "no flash data blocks found", Severity.INFO))
    return Image(path=path, format=ImageFormat.ODX, data=bytes(payload), segments=tuple(segments),
                 metadata=meta, diagnostics=tuple(diags))


#: Registration (ecuscan.formats.registry).
_ODX_NAME = re.compile(r"\.odx(-[a-z]{1,3})?$", re.IGNORECASE)


def _probe_odx(head: bytes, data: Buffer) -> bool:
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):  # a PDX: a zip holding *.odx* or index.xml
        try:
            with zipfile.ZipFile(cast(IO[bytes], BufferStream(data))) as zf:
                for i, name in enumerate(zf.namelist()):
                    if i > 100_000:
                        return False
                    if _ODX_NAME.search(name.rsplit("/", 1)[-1]) or name.lower() == "index.xml":
                        return True
        except Exception:  # any zip error: not an ODX container; the archive reader reports it
            return False
        return False
    return head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"<") and b"<ODX" in head


FORMATS = (LoaderFormat(
    FormatInfo(ImageFormat.ODX, "ODX-F flash data (XML) or PDX container (zip)", "application/x-odx",
               "XML with `<ODX`, or a zip holding `*.odx-f`/`index.xml`", OffsetMap.PAYLOAD),
    _probe_odx, load_odx),)
