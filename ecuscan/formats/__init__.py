"""Image loaders: bytes in, :class:`~ecuscan.model.Image` out.

:func:`detect` names the format from the bytes; :func:`load` dispatches to one loader per
format (ELF, Intel HEX, S-record, VBF, ODX-F/PDX, raw). Archives and filesystem images have
members instead of one image: unpack them with :func:`ecuscan.formats.archive.iter_members`
(:func:`is_container` tells whether bytes are one).

Every loader bounds sizes/counts/time with :class:`~ecuscan.limits.Limits` and raises only
:class:`~ecuscan.errors.FormatError` subclasses (message prefixed with the path).

>>> img = load(b"\\x00" * 16, "blob.bin", base_address=0x1000)
>>> img.format.value, img.segments[0].address
('raw', 4096)
"""

from __future__ import annotations

from ecuscan.errors import EcuscanError, FormatError, UnsupportedFormat
from ecuscan.limits import DEFAULT_LIMITS, Limits
from ecuscan.model import Buffer, Image, ImageFormat

from ._util import check_file_size
from .detect import detect, is_container

__all__ = ["detect", "is_container", "load"]


def load(data: Buffer, path: str, *, base_address: int | None = None,
         limits: Limits = DEFAULT_LIMITS) -> Image:
    """Detect the format of ``data`` and load it with the matching loader.

    ``path`` names the input in the Image and in every error message. ``base_address`` is used
    for raw images only (formats with addresses carry their own). Archives raise
    :class:`UnsupportedFormat`: use :func:`ecuscan.formats.archive.iter_members` for them.
    """
    check_file_size(data, path, limits)
    fmt = detect(data)
    try:
        if fmt is ImageFormat.ELF:
            from .elf import load_elf
            return load_elf(data, path, limits=limits)
        if fmt in (ImageFormat.IHEX, ImageFormat.SREC):
            from .hexsrec import load_hexsrec
            return load_hexsrec(data, path, limits=limits)
        if fmt is ImageFormat.VBF:
            from .vbf import load_vbf
            return load_vbf(data, path, limits=limits)
        if fmt is ImageFormat.ODX:
            from .odx import load_odx
            return load_odx(data, path, limits=limits)
        if fmt is ImageFormat.ARCHIVE:
            raise UnsupportedFormat("is an archive or filesystem image, not a single image; "
                                    "unpack it with ecuscan.formats.archive.iter_members", source=path)
        from .raw import load_raw
        return load_raw(data, path, base_address=base_address, limits=limits)
    except EcuscanError:
        raise
    except RecursionError as exc:
        raise FormatError(f"{fmt.value} image nests too deeply", source=path) from exc
    except Exception as exc:  # last line of defence: a loader bug must not leak a raw exception
        raise FormatError(f"cannot read {fmt.value} image: {type(exc).__name__}: {str(exc)[:200]}",
                          source=path) from exc
