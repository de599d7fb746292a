"""The format registry: the one list of firmware formats ecuscan detects, loads and unpacks.

:data:`BUILTIN` names the module of each format, in probe order (the first format whose probe
accepts the bytes wins; ``raw`` accepts anything and comes last). A module defines ``FORMATS``,
a tuple of :class:`~ecuscan.formats.base.Format` objects. Modules are imported on first use, so
importing ecuscan stays cheap and a loader may import the registry without a cycle.

A format from outside ecuscan is added at run time with :func:`register` (see
``docs/extending.md``); its name becomes an :class:`ImageFormat` value like the built-in ones.

>>> [i.name for i in infos()][:4]
['elf', 'pe', 'te', 'uefi-fv']
>>> info(ImageFormat.IHEX).offsets.value, info(ImageFormat.ARCHIVE).container
('payload', True)
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Iterator

from ecuscan.errors import EcuscanError, FormatError, UnsupportedFormat
from ecuscan.limits import DEFAULT_LIMITS, Limits
from ecuscan.model import Buffer, Image, ImageFormat

from ._util import as_view, check_file_size
from .base import PROBE_BYTES, Format, FormatInfo, Member, OffsetMap, Skipped, UnpackBudget

__all__ = ["BUILTIN", "detect", "file_offset_of", "find", "format_table", "formats", "info", "infos", "is_container",
           "iter_members", "load", "offsets_are_file_offsets", "register", "unregister"]

#: Built-in format modules, in probe order. Adding a format: one module, one line here.
BUILTIN: tuple[str, ...] = (
    "ecuscan.formats.elf",
    "ecuscan.formats.pe",
    "ecuscan.formats.te",
    "ecuscan.formats.uefi",
    "ecuscan.formats.optionrom",
    "ecuscan.formats.odx",  # before archive: an ODX-F/PDX container is a zip
    "ecuscan.formats.archive",
    "ecuscan.formats.hexsrec",
    "ecuscan.formats.vbf",
    "ecuscan.formats.raw",  # accepts anything: last
)

_lock = threading.Lock()
_formats: list[Format] | None = None


def _load_builtin() -> list[Format]:
    out: list[Format] = []
    for name in BUILTIN:
        out.extend(importlib.import_module(name).FORMATS)
    return out


def formats() -> tuple[Format, ...]:
    """Every registered format, in probe order."""
    global _formats
    if _formats is None:
        with _lock:
            if _formats is None:
                _formats = _load_builtin()
    return tuple(_formats)


def infos() -> tuple[FormatInfo, ...]:
    """The metadata of every registered format, in probe order."""
    return tuple(f.info for f in formats())


def register(fmt: Format, *, before: str | None = "raw") -> None:
    """Add a format, probed just before the format named ``before`` (the end when ``None``).

    Its name must be new; an unknown name becomes an :class:`ImageFormat` value
    (:meth:`ImageFormat.extend`) so that results carry it like a built-in format.
    """
    current = list(formats())
    if any(f.info.name == fmt.info.name for f in current):
        raise ValueError(f"format {fmt.info.name!r} is already registered")
    names = [f.info.name for f in current]
    pos = names.index(before) if before is not None and before in names else len(current)
    current.insert(pos, fmt)
    global _formats
    with _lock:
        _formats = current


def unregister(name: str) -> None:
    """Remove a format registered with :func:`register` (built-in formats stay)."""
    global _formats
    builtin = {f.info.name for f in _load_builtin()}
    if name in builtin:
        raise ValueError(f"{name!r} is a built-in format")
    with _lock:
        _formats = [f for f in formats() if f.info.name != name]


def info(fmt: ImageFormat | str) -> FormatInfo:
    """The metadata of a format by name (``KeyError`` when none is registered by that name)."""
    for f in formats():
        if f.info.name == fmt:
            return f.info
    raise KeyError(fmt)


def offsets_are_file_offsets(fmt: ImageFormat | str) -> bool:
    """True when offsets in the scanned bytes of this format are offsets in the file itself."""
    try:
        return info(fmt).offsets is OffsetMap.FILE
    except KeyError:  # directory or an unregistered plug-in name: no file to point into
        return False


def file_offset_of(image: Image, offset: int) -> int | None:
    """Map an offset in :attr:`Image.data` to an offset in the original file, when that is known.

    (A function of the registry rather than a method of :class:`Image`: the records module stays
    below the formats, which import it.)
    """
    if offsets_are_file_offsets(image.format):
        return offset
    for seg in image.segments:
        if seg.file_offset is not None and seg.offset <= offset < seg.offset + seg.size:
            return seg.file_offset + (offset - seg.offset)
    return None


def find(data: Buffer) -> Format:
    """The first registered format whose probe accepts ``data``."""
    head = bytes(as_view(data)[:PROBE_BYTES])
    for f in formats():
        if f.probe(head, data):
            return f
    raise UnsupportedFormat("no registered format accepts these bytes")  # raw accepts all: not reached


def detect(data: Buffer) -> ImageFormat:
    """The format of ``data``, from its bytes (never from a file name).

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
    return find(data).info.format


def is_container(data: Buffer) -> bool:
    """True if the bytes are a container that is unpacked rather than loaded (archive, filesystem image).

    Formats that are both (UEFI firmware volumes, option ROMs: ``FormatInfo.container`` with a
    payload mapping) load as one image; :func:`iter_members` also lists their members.

    >>> is_container(b"!<arch>\\n"), is_container(b"\\x7fELF")
    (True, False)
    """
    return find(data).info.offsets is OffsetMap.MEMBERS


def load(data: Buffer, path: str, *, base_address: int | None = None,
         limits: Limits = DEFAULT_LIMITS) -> Image:
    """Detect the format of ``data`` and load it with that format's loader.

    ``path`` names the input in the Image and in every error message. ``base_address`` is used
    by formats without addresses of their own (raw). Every failure is a
    :class:`~ecuscan.errors.FormatError` naming ``path``.
    """
    check_file_size(data, path, limits)
    fmt = find(data)
    name = fmt.info.name
    try:
        return fmt.load(data, path, base_address=base_address, limits=limits)
    except EcuscanError:
        raise
    except RecursionError as exc:
        raise FormatError(f"{name} image nests too deeply", source=path) from exc
    except Exception as exc:  # last line of defence: a loader bug must not leak a raw exception
        raise FormatError(f"cannot read {name} image: {type(exc).__name__}: {str(exc)[:200]}",
                          source=path) from exc


def iter_members(data: Buffer, path: str, *, limits: Limits = DEFAULT_LIMITS, depth: int = 0,
                 skipped: list[Skipped] | None = None,
                 budget: UnpackBudget | None = None) -> Iterator[Member]:
    """The members of a container of any registered format (see :meth:`Format.members`): the
    files of an archive, the PE32/TE/raw sections of UEFI volumes, the images of an option ROM."""
    fmt = find(data)
    if not fmt.info.container:
        raise UnsupportedFormat(f"a {fmt.info.name} image is not a container", source=path)
    return fmt.members(data, path, limits=limits, depth=depth, skipped=skipped, budget=budget)


_OFFSETS_TEXT = {
    OffsetMap.FILE: "the file: `offset` is a file offset",
    OffsetMap.PAYLOAD: "a decoded payload: `address` (and `file_offset` of a segment stored as is) locate it",
    OffsetMap.MEMBERS: "its members, each scanned on its own",
}


def format_table() -> str:
    """The Markdown table of the registered formats (``docs/scan-json.md`` shows it, generated)."""
    rows = ["| `format` | what | recognised by | media type | members | scanned bytes are |",
            "| --- | --- | --- | --- | --- | --- |"]
    for i in infos():
        rows.append(f"| `{i.name}` | {i.description} | {i.magic} | `{i.media_type}` | "
                    f"{'yes' if i.container else 'no'} | {_OFFSETS_TEXT[i.offsets]} |")
    return "\n".join(rows)
