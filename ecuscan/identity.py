"""ECU identification carried by an image: what a bench check expects the ECU to report.

Two sources, both facts of the image itself:

- container headers: a VBF header's ``sw_part_number`` / ``sw_version`` / ``sw_part_type``
  and ODX expected identifications (the loaders put them in ``Image.metadata``);
- an identification table in the firmware constants. ecuscan documents one plain form
  that an ECU project can embed so that analysis and bench check meet:
  ``ECUSCAN-DID:F189=2.4.1;F18C=SN0001;`` (DID in hex, ``=``, printable value, ``;``).

The result is a ``metadata`` mapping with keys ``did:F189`` etc., which the bench check
turns into expected values.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from .model import Image

#: The literal every identification table starts with (a scan's pattern pass finds its places).
TABLE_PREFIX = b"ECUSCAN-DID:"
TABLE = re.compile(re.escape(TABLE_PREFIX) + rb"((?:[0-9A-Fa-f]{4}=[\x20-\x3a\x3c-\x7e]{0,64};){1,64})")
_ENTRY = re.compile(rb"([0-9A-Fa-f]{4})=([\x20-\x3a\x3c-\x7e]{0,64});")

#: VBF header fields that state identification, and the DID they correspond to.
_HEADER_DIDS = {"sw_part_number": "F188"}


def identification_metadata(image: Image, max_tables: int = 8,
                            tables: Iterable[re.Match[bytes]] | None = None) -> Mapping[str, str]:
    """``did:XXXX`` keys from the image's identification table(s) and container header.

    ``tables``: the matches of :data:`TABLE` in ``image.data`` when the caller has them (from a
    pass over the bytes it made anyway); else :data:`TABLE` runs over the bytes.

    >>> from ecuscan.model import Image, ImageFormat
    >>> dict(identification_metadata(Image("x", ImageFormat.RAW, b"..ECUSCAN-DID:F189=2.4.1;F18C=SN7;..")))
    {'did:F189': '2.4.1', 'did:F18C': 'SN7', 'did_table_offset': '2'}
    """
    out: dict[str, str] = {}
    for field, did in _HEADER_DIDS.items():
        value = image.metadata.get(field)
        if value:
            out[f"did:{did}"] = value
    for n, m in enumerate(TABLE.finditer(image.data) if tables is None else tables):
        if n >= max_tables:
            break
        for did, value in _ENTRY.findall(m.group(1)):
            out.setdefault(f"did:{did.decode().upper()}", value.decode("ascii"))
        out.setdefault("did_table_offset", str(m.start()))
    return out
