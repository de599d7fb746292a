"""Build provenance of an image: hashes, build-id, toolchains, build paths, timestamps, keys.

:func:`extract` reads what the loader already parsed (``.comment``, DWARF units, build-id,
container metadata) and scans :attr:`Image.data` a fixed, small number of times with
compiled regular expressions (never copying the buffer, which may be a 256 MB ``mmap``).
Every kind of finding is bounded by :attr:`Limits.max_items_per_kind`.

>>> from ecuscan.model import Image, ImageFormat
>>> img = Image(path="demo.bin", format=ImageFormat.RAW,
...             data=b"\\0GCC: (Arm GNU Toolchain 12.2) 12.2.1 20221205\\0/home/alice/fw/main.c\\0")
>>> p = extract(img)
>>> (p.toolchains[0].name, p.toolchains[0].version, p.users)
('GCC', '12.2.1', ('alice',))
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import replace

from ecuscan.limits import DEFAULT_LIMITS, Limits
from ecuscan.mapped import hash_range
from ecuscan.model import Buffer, Image, Provenance, Segment, SegmentKind, Sha256
from ecuscan.provenance import buildid, buildpaths, certificates, prefilter, textscan, timestamps, toolchain

__all__ = ["PREFILTER_GROUPS", "extract", "segment_hashes", "sha256_of"]

#: The prefilters of every pass over the bytes below, for one Hyperscan pass (``ecuscan.provenance.prefilter``):
#: ``(group, patterns, literal)``. Identification runs them in its own pass over the same buffer.
PREFILTER_GROUPS: tuple[tuple[str, tuple[bytes, ...], bool], ...] = (
    (textscan.TRIGGER_GROUP, textscan.TRIGGER_WORDS, False),
    (buildpaths.POSIX_GROUP, buildpaths.POSIX_STARTS, True),
    (buildpaths.WIN_GROUP, buildpaths.WIN_STARTS, True),
    (certificates.DER_GROUP, certificates.DER_STARTS, False),
    (certificates.PEM_GROUP, certificates.PEM_STARTS, True),
)


def _places(data: Buffer) -> prefilter.Found | None:
    """Where the prefilters occur in ``data``: from identification's pass over this very buffer,
    else from a pass of their own (``None``: more places than a pass keeps; the regexes run)."""
    shared, found = prefilter.take(data, [g for g, _p, _l in PREFILTER_GROUPS])
    if shared:
        return found
    return prefilter.run(prefilter.compile_pass(PREFILTER_GROUPS), data)

#: Certificate candidates tried per kept item (layout matches that are not DER are common in code).
_CANDIDATES_PER_ITEM = 16


def sha256_of(data: Buffer, start: int = 0, size: int | None = None) -> Sha256:
    """SHA-256 of ``data[start:start+size]``, hashed in chunks without copying the buffer.

    >>> sha256_of(b"abc")[:16]
    'ba7816bf8f01cfea'
    """
    h = hashlib.sha256()
    hash_range(h, data, start, None if size is None else start + size)
    return Sha256(h.hexdigest())


def segment_hashes(image: Image) -> tuple[Segment, ...]:
    """The image's segments with ``sha256`` filled in over their bytes in :attr:`Image.data`.

    A segment without bytes in the buffer (``.bss``, or one that lies past the end of the
    data) keeps ``sha256=None``: there is nothing to hash. A hash the loader already made over
    the same bytes (every loader hashes ``data[offset:offset + size]``) is kept, not made again.
    """
    size = len(image.data)
    out = []
    for seg in image.segments:
        if (seg.kind is SegmentKind.BSS or seg.size <= 0 or seg.offset < 0
                or seg.offset + seg.size > size):
            out.append(replace(seg, sha256=None))
        elif seg.sha256 is not None:
            out.append(seg)
        else:
            out.append(replace(seg, sha256=sha256_of(image.data, seg.offset, seg.size)))
    return tuple(out)


def _unique(items: Iterable[str], limit: int) -> tuple[str, ...]:
    out: dict[str, None] = {}
    for item in items:
        if len(out) >= limit:
            break
        out.setdefault(item, None)
    return tuple(out)


def extract(image: Image, limits: Limits = DEFAULT_LIMITS, *, file_sha256: str | None = None,
            file_size: int | None = None) -> Provenance:
    """Everything the image tells about how, where, when and by whom it was built.

    ``file_sha256``/``file_size`` describe the file as given (the scanner computes them);
    without them the hash and size are taken over :attr:`Image.data`, which for HEX,
    S-record and VBF is the decoded payload, not the file.
    """
    data = image.data
    cap = max(0, limits.max_items_per_kind)
    text_limit = limits.max_evidence_text

    # One shared pass for banners, timestamps and build-host statements in the bytes.
    places = _places(data)
    text = textscan.scan(data, cap, text_limit, places=places)

    # Toolchains: .comment, then DWARF producers (distinct ones only), then banners in the bytes.
    producers = _unique((u.producer for u in image.dwarf_units if u.producer), cap)
    tools = toolchain.collect(image.comments[:cap], producers, text.banners, cap, text_limit)
    tools = (*image.toolchains[:cap], *tools)[:cap]  # stated by the headers (PE linker) come first

    # Build paths and the users/hosts they reveal.
    flag_list = [f for t in tools for f in t.flags]
    paths = _unique(
        [*image.build_paths[:cap], *buildpaths.dwarf_paths(image.dwarf_units[:limits.max_dwarf_units]),
         *buildpaths.flag_paths(flag_list),
         *(p for _, p in buildpaths.scan_paths(data, cap * 4, places))], cap)
    banner_people = text.people
    users = _unique([*(u for p in paths if (u := buildpaths.user_of(p))),
                     *(u for u, _ in banner_people if u)], cap)
    hosts = _unique((h for _, h in banner_people if h), cap)

    # Timestamps: container headers first, then strings in the bytes.
    stamps = _unique([*timestamps.from_metadata(image.metadata),
                      *(iso for _, iso in text.stamps)], cap)

    # Certificates and keys, ordered by offset.
    found = [*certificates.scan_der(data, cap, cap * _CANDIDATES_PER_ITEM, text_limit, places),
             *certificates.scan_pem(data, cap, cap * _CANDIDATES_PER_ITEM, text_limit, places)]
    certs = tuple(sorted(found, key=lambda c: c.offset)[:cap])

    bid = image.build_id or buildid.find_build_id(data)
    return Provenance(
        sha256=Sha256(file_sha256) if file_sha256 else sha256_of(data),
        size=file_size if file_size is not None else len(data),
        build_id=bid, toolchains=tools, build_paths=paths, users=users, hosts=hosts,
        timestamps=stamps, stripped=image.stripped, has_dwarf=image.has_dwarf, certificates=certs,
    )
