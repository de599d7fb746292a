"""Image loaders: bytes in, :class:`~ecuscan.model.Image` out.

The formats are listed in :mod:`ecuscan.formats.registry` (one module per format, see
``docs/extending.md``): :func:`detect` names the format from the bytes, :func:`load` reads it
with that format's loader, :func:`is_container` tells whether it has members and
:func:`iter_members` unpacks them (archives, filesystem images, UEFI firmware volumes, option ROMs).

Every loader bounds sizes/counts/time with :class:`~ecuscan.limits.Limits` and raises only
:class:`~ecuscan.errors.FormatError` subclasses (message prefixed with the path).

>>> img = load(b"\\x00" * 16, "blob.bin", base_address=0x1000)
>>> img.format.value, img.segments[0].address
('raw', 4096)
"""

from __future__ import annotations

# the submodule ``detect`` is imported first so that the name stays the function
from .detect import detect, is_container
from .registry import iter_members, load

__all__ = ["detect", "is_container", "iter_members", "load"]
