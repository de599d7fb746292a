"""Raw binary loader: a flash dump or unknown bytes, scanned as they are."""

from __future__ import annotations

from ecuscan.limits import DEFAULT_LIMITS, Limits
from ecuscan.model import Buffer, Image, ImageFormat, Segment, SegmentKind

from ._util import check_file_size, sha256_of
from .base import FormatInfo, LoaderFormat, OffsetMap

__all__ = ["load_raw"]


def load_raw(data: Buffer, path: str, *, base_address: int | None = None,
             limits: Limits = DEFAULT_LIMITS) -> Image:
    """One segment covering all bytes, at ``base_address`` (``None`` when unknown).

    >>> img = load_raw(b"\\x01\\x02", "dump.bin", base_address=0x8000000)
    >>> img.segments[0].address, img.segments[0].size, img.address_of(1)
    (134217728, 2, 134217729)
    """
    size = check_file_size(data, path, limits)
    segments = (Segment(name="raw", address=base_address, offset=0, size=size, kind=SegmentKind.OTHER,
                        file_offset=0, sha256=sha256_of(data)),) if size else ()
    meta = {"base_address": hex(base_address)} if base_address is not None else {}
    return Image(path=path, format=ImageFormat.RAW, data=data, segments=segments, metadata=meta)


#: Registration (ecuscan.formats.registry): the fallback, probed last.
FORMATS = (LoaderFormat(
    FormatInfo(ImageFormat.RAW, "raw flash dump or unknown bytes, scanned as they are (at `--base-address`)",
               "application/octet-stream", "anything no other format accepts", OffsetMap.FILE),
    lambda _head, _data: True, load_raw, takes_base_address=True),)
